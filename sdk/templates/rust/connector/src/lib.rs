//! {{name}}: a connector for plain-text appeals. `decode` reads UTF-8 text whose first
//! line is the subject and the rest the body; `encode` writes the message's id, priority
//! and subject as one line of text for a sink.

use okno_sdk::prelude::*;

/// The largest input decoded, in bytes: anything longer is refused, not truncated.
const MAX_INPUT_BYTES: usize = 1 << 20;

pub struct {{type_name}};

impl Connector for {{type_name}} {
    fn decode(input: Inbound) -> Result<Vec<Message>, PluginError> {
        if input.bytes.len() > MAX_INPUT_BYTES {
            return Err(PluginError::invalid_input(format!(
                "the input is {} bytes; at most {MAX_INPUT_BYTES} are read",
                input.bytes.len()
            )));
        }
        let text = String::from_utf8(input.bytes)
            .map_err(|e| PluginError::invalid_input(format!("the input is not UTF-8: {e}")))?;
        let (subject, body) = match text.split_once('\n') {
            Some((first, rest)) => (first.trim(), rest.trim()),
            None => ("", text.trim()),
        };
        if body.is_empty() && subject.is_empty() {
            return Err(PluginError::invalid_input("the input is empty"));
        }
        let mut message = Message::new(Channel::Api, body);
        message.received_at = okno_sdk::clock::now();
        if !subject.is_empty() {
            message.subject = Some(subject.to_string());
        }
        // Metadata the source passed in (e.g. a sender's id) is kept on the message.
        message.metadata = input.metadata;
        Ok(vec![message])
    }

    fn encode(message: Message, _: Classification, decision: Decision) -> Result<Outbound, PluginError> {
        let line = format!(
            "{} {} {}\n",
            message.id,
            decision.priority.as_str(),
            message.subject.as_deref().unwrap_or("")
        );
        Ok(Outbound { bytes: line.into_bytes(), content_type: "text/plain; charset=utf-8".into(), headers: vec![] })
    }
}

okno_sdk::export_connector!({{type_name}});

#[cfg(test)]
mod tests {
    use super::*;
    use okno_sdk::testing::MockHost;

    #[test]
    fn decodes_subject_and_body() {
        let input = Inbound::from_bytes("Нет воды\nТретий день нет воды в доме 5.".as_bytes().to_vec());
        let messages = MockHost::new().run(|| {{type_name}}::decode(input)).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].subject.as_deref(), Some("Нет воды"));
        assert_eq!(messages[0].body, "Третий день нет воды в доме 5.");
        assert_eq!(messages[0].received_at, MockHost::new().now);
    }

    #[test]
    fn refuses_what_is_not_text() {
        let error = MockHost::new().run(|| {{type_name}}::decode(Inbound::from_bytes(vec![0xff, 0xfe]))).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
    }

    #[test]
    fn encodes_one_line() {
        let mut message = Message::new(Channel::Api, "...");
        message.id = "m-1".into();
        message.subject = Some("Нет воды".into());
        let out = {{type_name}}::encode(message, Classification::default(), Decision::new(Priority::High)).unwrap();
        assert_eq!(String::from_utf8(out.bytes).unwrap(), "m-1 high Нет воды\n");
    }
}
