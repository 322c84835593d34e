//! # priority: the ministry's policy for priority, deadlines and who answers
//!
//! - **Deadlines.** Registration within 3 working days of receipt (59-FZ art. 8). Written
//!   appeals (`mail`, `epgu`, `sog`, `edms`, `knd`, `site`, `post`, `api`), oral appeals
//!   at a reception and phone calls: an answer within 30 days of registration (59-FZ
//!   art. 12), moved to the next working day when the 30th is not one — unless metadata
//!   `reception.answered-on-spot` or `phone.answered-on-call` is `true`. Social networks
//!   (metadata `social.kind` = `mention` | `appeal` | `comment`, default `appeal`):
//!   4 hours for a mention (no registration), 2 hours otherwise. An appeal to a deputy
//!   minister (metadata `addressee.role` = `deputy-minister`, or an `addressee.id`
//!   listed in `deputy-minister.addressees`): by the end of the next working day.
//! - **Priority.** Complaint high, gratitude low, others normal; one level up for a
//!   strongly negative sentiment (≤ −0.6), for a client segment from `priority-segments`,
//!   for a repeat appeal; at least high for a deputy minister; urgent for an `urgent` or
//!   `emergency` tag; never above urgent.
//! - **Responsible.** `responsible.<code prefix>` → department, the longest prefix of the
//!   topic code winning, else `responsible.default`.
//! - **Route tags.** `priority:<level>`, `deadline:<n>d` (and `deadline:<n>h` for
//!   deadlines in hours), `repeat`.
//!
//! Every rule applied adds one reason in Russian. The same logic runs natively through
//! [`PolicySettings::from_settings`] and [`decide_with_settings`].

mod deadlines;
mod decide;
mod level;
mod responsible;
mod settings;
mod words;

use okno_sdk::prelude::*;

pub use decide::decide_with_settings;
pub use settings::{PolicySettings, DEFAULT_SEGMENTS};

pub struct PriorityPolicy;

impl Policy for PriorityPolicy {
    fn decide(message: Message, classification: Classification) -> Result<Decision, PluginError> {
        let settings = PolicySettings::from_settings(&okno_sdk::config::get_all())?;
        decide_with_settings(&settings, &message, &classification)
    }
}

okno_sdk::export_policy!(PriorityPolicy);

#[cfg(test)]
mod tests;
