//! Check digits of Russian identifiers and bank cards. A number that fails its check is
//! treated as "not this identifier": a typo'd or made-up number is not the person's data,
//! and requiring the check keeps dates, sums and appeal numbers out of the findings.

/// SNILS: 11 digits, the last two a checksum of the first nine.
pub fn snils_ok(digits: &[u8]) -> bool {
    if digits.len() != 11 {
        return false;
    }
    let body: u64 = digits[..9].iter().fold(0, |n, d| n * 10 + u64::from(*d));
    // The Pension Fund only assigns check digits from 001-001-999 on.
    if body <= 1_001_998 {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * (9 - i as u32))
        .sum();
    let check = match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => match sum % 101 {
            100 => 0,
            c => c,
        },
    };
    check == u32::from(digits[9]) * 10 + u32::from(digits[10])
}

fn weighted_check(digits: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    (sum % 11 % 10) as u8
}

/// INN: 10 digits (organisation) or 12 digits (person), with one or two check digits.
pub fn inn_ok(digits: &[u8]) -> bool {
    const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
    match digits.len() {
        10 => weighted_check(&digits[..9], &W10) == digits[9],
        12 => {
            weighted_check(&digits[..10], &W11) == digits[10]
                && weighted_check(&digits[..11], &W12) == digits[11]
        }
        _ => false,
    }
}

/// Luhn check used by every card scheme.
pub fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn snils_checksum() {
        assert!(snils_ok(&digits("112-233-445 95")));
        assert!(!snils_ok(&digits("112-233-445 96")));
        // Below the first number that carries a check digit.
        assert!(!snils_ok(&digits("001-001-998 00")));
    }

    #[test]
    fn inn_checksums() {
        assert!(inn_ok(&digits("7707083893")));
        assert!(!inn_ok(&digits("7707083894")));
        assert!(inn_ok(&digits("500100732259")));
        assert!(!inn_ok(&digits("500100732250")));
        assert!(!inn_ok(&digits("77070838")));
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok(&digits("4111 1111 1111 1111")));
        assert!(!luhn_ok(&digits("4111 1111 1111 1112")));
    }
}
