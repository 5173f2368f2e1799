//! Phone numbers a caller types on the keypad, made E.164 by the country
//! of the number they called, and E.164 numbers read back digit by digit.
//!
//! A national number (`07700900123` typed to a `+44` number) gets the
//! country code of the number called and loses its trunk prefix; an
//! international one starts with `00` or the country's own international
//! prefix (`011` in the NANP, `0011` in Australia). What cannot be a
//! number worth calling back is refused: too short or too long for its
//! country's plan, a first digit no number there starts with, an emergency
//! or short code, a premium-rate range. The plans cover the countries below;
//! for a called number elsewhere only international numbers are taken (the
//! country code must be an assigned ITU zone, the length E.164's).

/// One country's numbering plan, as far as a callback needs it.
struct Plan {
    /// The country calling code, without `+`.
    cc: &'static str,
    /// The trunk prefix of a national number (`0`), `""` where there is none.
    trunk: &'static str,
    /// Whether a national number may also be typed without the trunk prefix (the NANP's `1`).
    trunk_optional: bool,
    /// The international prefix besides `00`.
    intl: &'static str,
    /// Digits in the national significant number (after the trunk prefix).
    min: usize,
    max: usize,
    /// The digits a national significant number may start with.
    first: &'static str,
    /// National significant number prefixes refused: premium and charged services.
    barred: &'static [&'static str],
}

const fn plan(
    cc: &'static str,
    trunk: &'static str,
    intl: &'static str,
    min: usize,
    max: usize,
    first: &'static str,
    barred: &'static [&'static str],
) -> Plan {
    Plan {
        cc,
        trunk,
        trunk_optional: false,
        intl,
        min,
        max,
        first,
        barred,
    }
}

const NANP: Plan = Plan {
    cc: "1",
    trunk: "1",
    trunk_optional: true,
    intl: "011",
    min: 10,
    max: 10,
    first: "23456789",
    barred: &["900", "976"],
};

const PLANS: &[Plan] = &[
    NANP,
    plan("44", "0", "00", 9, 10, "123578", &["70", "84", "87"]),
    plan("353", "0", "00", 7, 9, "123456789", &["15"]),
    plan("33", "0", "00", 9, 9, "123456789", &["89"]),
    plan("49", "0", "00", 6, 13, "123456789", &["900", "137"]),
    plan("31", "0", "00", 9, 9, "123456789", &["90"]),
    plan("32", "0", "00", 8, 9, "123456789", &["90"]),
    plan("41", "0", "00", 9, 9, "123456789", &["90"]),
    plan("43", "0", "00", 6, 13, "123456789", &["90"]),
    plan("46", "0", "00", 7, 10, "12345678", &[]),
    plan("34", "", "00", 9, 9, "6789", &["803", "806", "807"]),
    plan("39", "", "00", 6, 11, "03", &[]),
    plan("351", "", "00", 9, 9, "29", &["760"]),
    plan("45", "", "00", 8, 8, "2345678", &[]),
    plan("47", "", "00", 8, 8, "2345679", &[]),
    plan("48", "", "00", 9, 9, "12345678", &["70"]),
    plan("61", "0", "0011", 9, 9, "23478", &[]),
    plan("64", "0", "00", 8, 10, "2345679", &["900"]),
    plan("27", "0", "00", 9, 9, "12345678", &["86"]),
    plan("91", "0", "00", 10, 10, "123456789", &[]),
    plan("81", "0", "010", 9, 10, "123456789", &["990"]),
    plan("852", "", "001", 8, 8, "235679", &[]),
];

/// The two-digit country codes ITU has assigned; the one-digit ones are
/// `1` and `7`, and every other assigned code has three digits, starting
/// with one of [`THREE_DIGIT_ZONES`].
const TWO_DIGIT: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];
const THREE_DIGIT_ZONES: &[&str] = &[
    "21", "22", "23", "24", "25", "26", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69",
    "80", "85", "87", "88", "96", "97", "99",
];

/// The caller IDs Twilio gives a call whose number is withheld
/// (`anonymous`, `restricted`, `blocked`, `unavailable` on a keypad).
const WITHHELD: &[&str] = &["+266696687", "+7378742833", "+2562533", "+8656696"];

/// Why typed digits are not a number to call back (for the logs; the caller
/// hears one apology for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NotDigits,
    /// A national number, and the called number's country has no plan here.
    NationalUnknownCountry,
    /// National numbers there start with the trunk prefix (`0…`).
    NoTrunkPrefix,
    TooShort,
    TooLong,
    BadFirstDigit,
    Premium,
    UnknownCountryCode,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refused::NotDigits => "not only digits",
            Refused::NationalUnknownCountry => {
                "a national number, for a country whose plan is not known here"
            }
            Refused::NoTrunkPrefix => "a national number without its trunk prefix",
            Refused::TooShort => "too short",
            Refused::TooLong => "too long",
            Refused::BadFirstDigit => "no number there starts like that",
            Refused::Premium => "a premium-rate or charged service",
            Refused::UnknownCountryCode => "no such country code",
        })
    }
}

/// The plan of an E.164 number's country, if this module knows it.
fn plan_of(e164: &str) -> Option<&'static Plan> {
    let digits = e164.strip_prefix('+')?;
    PLANS.iter().find(|p| digits.starts_with(p.cc))
}

/// Typed `digits` as E.164, read as the caller of `called` (an E.164 number) means them.
pub fn normalise(digits: &str, called: &str) -> Result<String, Refused> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refused::NotDigits);
    }
    let home = plan_of(called);
    let intl = home.map_or("00", |p| p.intl);
    if let Some(rest) = digits
        .strip_prefix(intl)
        .or_else(|| digits.strip_prefix("00"))
    {
        return international(rest);
    }
    let home = home.ok_or(Refused::NationalUnknownCountry)?;
    let nsn = match digits.strip_prefix(home.trunk) {
        Some(nsn) if !home.trunk.is_empty() => nsn,
        _ if home.trunk.is_empty() || home.trunk_optional => digits,
        _ => return Err(Refused::NoTrunkPrefix),
    };
    check(home, nsn)
}

/// Digits after an international prefix: country code, then the national significant number.
fn international(rest: &str) -> Result<String, Refused> {
    if let Some(p) = PLANS.iter().find(|p| rest.starts_with(p.cc)) {
        let nsn = &rest[p.cc.len()..];
        // `00 44 0 7700 …`: the trunk prefix typed out of habit.
        let nsn = match nsn.strip_prefix(p.trunk) {
            Some(n) if !p.trunk.is_empty() && !p.trunk_optional => n,
            _ => nsn,
        };
        return check(p, nsn);
    }
    let cc_len = if rest.starts_with('7') {
        1
    } else if TWO_DIGIT.iter().any(|c| rest.starts_with(c)) {
        2
    } else if THREE_DIGIT_ZONES.iter().any(|z| rest.starts_with(z)) {
        3
    } else {
        return Err(Refused::UnknownCountryCode);
    };
    match rest.len() {
        n if n < cc_len + 6 => Err(Refused::TooShort),
        n if n > 15 => Err(Refused::TooLong),
        _ => Ok(format!("+{rest}")),
    }
}

fn check(p: &Plan, nsn: &str) -> Result<String, Refused> {
    if nsn.len() < p.min {
        return Err(Refused::TooShort);
    }
    if nsn.len() > p.max {
        return Err(Refused::TooLong);
    }
    if !nsn.starts_with(|c: char| p.first.contains(c)) {
        return Err(Refused::BadFirstDigit);
    }
    // NANP: the exchange code (digits 4–6) starts 2–9 too.
    if p.cc == "1" && !nsn[3..].starts_with(|c: char| ('2'..='9').contains(&c)) {
        return Err(Refused::BadFirstDigit);
    }
    if p.barred.iter().any(|b| nsn.starts_with(b)) {
        return Err(Refused::Premium);
    }
    Ok(format!("+{}{nsn}", p.cc))
}

/// Whether an E.164 number (a caller ID) is one to offer calling back:
/// it passes the checks a typed number would.
pub fn is_callable(e164: &str) -> bool {
    if WITHHELD.contains(&e164) {
        return false;
    }
    match e164.strip_prefix('+') {
        Some(d) if crate::ids::is_e164(e164) => international(d).as_deref() == Ok(e164),
        _ => false,
    }
}

/// How `number` is read to a caller of `called`, digit by digit: the way
/// they would dial it (`0 7 7 0 0 9 0 0 1 2 3` in the same country, `plus
/// 3 3 …` from elsewhere).
pub fn spoken(number: &str, called: &str) -> String {
    let digits = number.strip_prefix('+').unwrap_or(number);
    let national = match (plan_of(number), plan_of(called)) {
        (Some(p), Some(h)) if p.cc == h.cc => {
            let trunk = if p.trunk_optional { "" } else { p.trunk };
            Some(format!("{trunk}{}", &digits[p.cc.len()..]))
        }
        _ => None,
    };
    let mut out = match &national {
        Some(_) => String::new(),
        None => "plus ".to_string(),
    };
    let shown = national.as_deref().unwrap_or(digits);
    let spaced: Vec<String> = shown.chars().map(String::from).collect();
    out.push_str(&spaced.join(" "));
    out
}

/// `+44 7700 900123`: an E.164 number grouped for reading on a screen or
/// saying to an agent (country code, then the national number in blocks).
pub fn display(number: &str) -> String {
    let Some(digits) = number.strip_prefix('+') else {
        return number.to_string();
    };
    let cc_len = match plan_of(number) {
        Some(p) => p.cc.len(),
        None if digits.starts_with('7') => 1,
        None if TWO_DIGIT.iter().any(|c| digits.starts_with(c)) => 2,
        None => 3.min(digits.len()),
    };
    let (cc, nsn) = digits.split_at(cc_len.min(digits.len()));
    let split = if nsn.len() > 6 { nsn.len() - 6 } else { 0 };
    let (head, tail) = nsn.split_at(split);
    [format!("+{cc}"), head.to_string(), tail.to_string()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const UK: &str = "+442079460000";
    const US: &str = "+12025550123";
    const AU: &str = "+61291234567";

    #[test]
    fn national_numbers_take_the_called_numbers_country() {
        assert_eq!(normalise("07700900123", UK).unwrap(), "+447700900123");
        assert_eq!(normalise("02079460018", UK).unwrap(), "+442079460018");
        assert_eq!(normalise("2125550199", US).unwrap(), "+12125550199");
        assert_eq!(normalise("12125550199", US).unwrap(), "+12125550199");
        assert_eq!(normalise("0412345678", AU).unwrap(), "+61412345678");
        assert_eq!(
            normalise("612345678", "+34911234567").unwrap(),
            "+34612345678"
        );
        assert_eq!(
            normalise("0612345678", "+39061234567").unwrap(),
            "+390612345678",
            "Italy keeps the leading 0"
        );
    }

    #[test]
    fn international_numbers_with_either_prefix() {
        assert_eq!(normalise("0033612345678", UK).unwrap(), "+33612345678");
        assert_eq!(normalise("011447700900123", US).unwrap(), "+447700900123");
        assert_eq!(normalise("00447700900123", US).unwrap(), "+447700900123");
        assert_eq!(
            normalise("0044 07700900123".replace(' ', "").as_str(), US).unwrap(),
            "+447700900123",
            "the trunk 0 typed out of habit"
        );
        assert_eq!(normalise("0011447700900123", AU).unwrap(), "+447700900123");
        // A country without a plan here: E.164 length and an assigned code.
        assert_eq!(normalise("0055119876543", UK).unwrap(), "+55119876543");
        assert_eq!(normalise("00380441234567", UK).unwrap(), "+380441234567");
    }

    #[test]
    fn what_cannot_be_called_back_is_refused() {
        assert_eq!(normalise("", UK), Err(Refused::NotDigits));
        assert_eq!(normalise("07700*900", UK), Err(Refused::NotDigits));
        assert_eq!(normalise("999", UK), Err(Refused::NoTrunkPrefix));
        assert_eq!(normalise("112", UK), Err(Refused::NoTrunkPrefix));
        assert_eq!(normalise("0770090012", UK), Ok("+44770090012".into()));
        assert_eq!(normalise("077009", UK), Err(Refused::TooShort));
        assert_eq!(normalise("077009001234", UK), Err(Refused::TooLong));
        assert_eq!(normalise("09098790000", UK), Err(Refused::BadFirstDigit));
        assert_eq!(normalise("08712345678", UK), Err(Refused::Premium));
        assert_eq!(normalise("911", US), Err(Refused::TooShort));
        assert_eq!(normalise("9005550123", US), Err(Refused::Premium));
        assert_eq!(normalise("2121550199", US), Err(Refused::BadFirstDigit));
        assert_eq!(normalise("0005", UK), Err(Refused::UnknownCountryCode));
        assert_eq!(
            normalise("00281234567", UK),
            Err(Refused::UnknownCountryCode)
        );
        assert_eq!(normalise("0055", UK), Err(Refused::TooShort));
        assert_eq!(
            normalise("0612345678", "+5511987654321"),
            Err(Refused::NationalUnknownCountry)
        );
    }

    #[test]
    fn caller_ids_worth_offering() {
        assert!(is_callable("+447700900123"));
        assert!(is_callable("+12125550199"));
        assert!(!is_callable("+4487123456789"));
        assert!(!is_callable("+266696687"), "withheld: Twilio's placeholder");
        assert!(!is_callable("anonymous"));
        assert!(!is_callable("+44"));
    }

    #[test]
    fn read_back_as_the_caller_dials_it() {
        assert_eq!(
            spoken("+447700900123", UK),
            "0 7 7 0 0 9 0 0 1 2 3".to_string()
        );
        assert_eq!(spoken("+12125550199", US), "2 1 2 5 5 5 0 1 9 9");
        assert_eq!(spoken("+33612345678", UK), "plus 3 3 6 1 2 3 4 5 6 7 8");
        assert_eq!(display("+447700900123"), "+44 7700 900123");
        assert_eq!(display("+12125550199"), "+1 2125 550199");
        assert_eq!(display("+33612345678"), "+33 612 345678");
    }
}
