//! Opening hours as the operator writes them in config.ini (`mon = 0900-1730`, `closed_on = 12-25`),
//! and whether the business is open at a given instant. The operator thinks in their own local
//! time, so the answer is judged on the business's wall clock (DST included), minute by minute.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

const MINUTES_PER_DAY: u16 = 24 * 60;

/// A span of the local day, kept as the operator wrote it so it can be echoed back unchanged.
///
/// `start` and `end` are minutes from midnight. The end minute counts whole (`0900-1730` is open
/// until 17:30:59) because operators write the last minute they are open; the one exception is an
/// end of 2400 (minute 1440), which is the end of the day itself. An end before the start runs
/// past midnight into the next day; an end equal to the start is that single minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeRange {
    start: u16,
    end: u16,
}

impl TimeRange {
    /// What `open` means: 0000-2400.
    pub const ALL_DAY: TimeRange = TimeRange {
        start: 0,
        end: MINUTES_PER_DAY,
    };

    /// `start` in 0..=1439 and `end` in 0..=1440 (minutes from midnight), else `None`.
    pub fn new(start: u16, end: u16) -> Option<Self> {
        (start < MINUTES_PER_DAY && end <= MINUTES_PER_DAY).then_some(TimeRange { start, end })
    }

    /// First open minute, from midnight.
    pub fn start(self) -> u16 {
        self.start
    }

    /// Last open minute as written, from midnight (1440 for 2400).
    pub fn end(self) -> u16 {
        self.end
    }

    /// Whether the range runs past midnight into the next day.
    pub fn is_overnight(self) -> bool {
        self.end < self.start
    }

    fn covers_on_start_day(self, minute: u16) -> bool {
        // 2400 is already an exclusive bound; any other end minute is open through its last second.
        let end_exclusive = if self.is_overnight() || self.end == MINUTES_PER_DAY {
            MINUTES_PER_DAY
        } else {
            self.end + 1
        };
        self.start <= minute && minute < end_exclusive
    }

    fn covers_after_midnight(self, minute: u16) -> bool {
        self.is_overnight() && minute <= self.end
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}{:02}-{:02}{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// A day the business is closed whatever its weekday hours say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClosedOn {
    /// Every year on this month and day. 02-29 closes only in leap years.
    Yearly { month: u32, day: u32 },
    /// This one date.
    Date(NaiveDate),
}

impl ClosedOn {
    fn falls_on(self, date: NaiveDate) -> bool {
        match self {
            ClosedOn::Yearly { month, day } => date.month() == month && date.day() == day,
            ClosedOn::Date(d) => d == date,
        }
    }
}

impl fmt::Display for ClosedOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClosedOn::Yearly { month, day } => write!(f, "{month:02}-{day:02}"),
            ClosedOn::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

/// A week of opening hours plus the dates the business is closed. The default is never open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpeningHours {
    days: [Vec<TimeRange>; 7],
    closed_on: Vec<ClosedOn>,
}

impl OpeningHours {
    /// `days[0]` is Monday … `days[6]` is Sunday.
    pub fn new(days: [Vec<TimeRange>; 7], closed_on: Vec<ClosedOn>) -> Self {
        OpeningHours { days, closed_on }
    }

    /// Whether the business is open at `now`, read on the wall clock of `tz`.
    ///
    /// The hours were written in local time, so DST is left to the conversion: on a spring-forward
    /// day the skipped hour is never open, and on a fall-back day the repeated hour is open both times.
    /// A closed_on date closes the whole local day, including the part of yesterday's overnight range
    /// that spills into it; a range whose start day is closed does not spill over either.
    pub fn is_open(&self, now: DateTime<Utc>, tz: Tz) -> bool {
        let local = now.with_timezone(&tz).naive_local();
        let today = local.date();
        if self.is_closed_on(today) {
            return false;
        }
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let index = today.weekday().num_days_from_monday() as usize;
        if self.days[index]
            .iter()
            .any(|r| r.covers_on_start_day(minute))
        {
            return true;
        }
        let yesterday_open = today.pred_opt().is_some_and(|d| !self.is_closed_on(d));
        yesterday_open
            && self.days[(index + 6) % 7]
                .iter()
                .any(|r| r.covers_after_midnight(minute))
    }

    /// The ranges of one weekday, 0 = Monday … 6 = Sunday. Panics past 6.
    pub fn day(&self, weekday_index: usize) -> &[TimeRange] {
        &self.days[weekday_index]
    }

    pub fn closed_on(&self) -> &[ClosedOn] {
        &self.closed_on
    }

    fn is_closed_on(&self, date: NaiveDate) -> bool {
        self.closed_on.iter().any(|c| c.falls_on(date))
    }
}

/// Parse one weekday value, e.g. `0900-1230, 1330-1730`, `open`, `closed` or empty (closed).
///
/// Spaces are ignored anywhere, as the older Python tool stripped them. The error is a short
/// message meant to follow `config.ini:LINE: [hours_x] mon: `.
pub fn parse_day(value: &str) -> Result<Vec<TimeRange>, String> {
    let compact = without_spaces(value);
    if compact.is_empty() || compact.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    if compact.eq_ignore_ascii_case("open") {
        return Ok(vec![TimeRange::ALL_DAY]);
    }
    split_list(value)?.into_iter().map(parse_range).collect()
}

/// Parse a closed_on value, e.g. `12-25, 2026-04-03`: `MM-DD` every year, `YYYY-MM-DD` once.
/// Empty means no exceptions.
pub fn parse_closed_on(value: &str) -> Result<Vec<ClosedOn>, String> {
    if without_spaces(value).is_empty() {
        return Ok(Vec::new());
    }
    split_list(value)?
        .into_iter()
        .map(parse_closed_date)
        .collect()
}

fn without_spaces(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_digits(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits on commas, refusing empty items: a stray comma usually means something was lost while editing.
fn split_list(value: &str) -> Result<Vec<&str>, String> {
    let pieces: Vec<&str> = value.split(',').map(str::trim).collect();
    let last = pieces.len() - 1;
    match pieces.iter().position(|p| p.is_empty()) {
        None => Ok(pieces),
        Some(0) => Err("leading comma: nothing before the first `,`".to_string()),
        Some(i) if i == last => Err("trailing comma: nothing after the last `,`".to_string()),
        Some(_) => Err("two commas with nothing between them".to_string()),
    }
}

fn parse_range(piece: &str) -> Result<TimeRange, String> {
    let compact = without_spaces(piece);
    if compact.eq_ignore_ascii_case("open") || compact.eq_ignore_ascii_case("closed") {
        return Err(format!(
            "`{piece}` can't be mixed with ranges: write it alone"
        ));
    }
    let shape = || format!("expected HHMM-HHMM, `{piece}`");
    let (start, end) = compact.split_once('-').ok_or_else(shape)?;
    if !is_digits(start, 4) || !is_digits(end, 4) {
        return Err(shape());
    }
    let start_minute = parse_clock(start)?;
    let end_minute = parse_clock(end)?;
    if start_minute == MINUTES_PER_DAY {
        return Err(format!(
            "`{piece}` starts at 2400, the end of the day: start at 0000 instead"
        ));
    }
    Ok(TimeRange {
        start: start_minute,
        end: end_minute,
    })
}

/// `token` is four ASCII digits; 2400 passes here and is refused as a start by the caller.
fn parse_clock(token: &str) -> Result<u16, String> {
    let hours: u16 = token[..2].parse().expect("two ASCII digits");
    let minutes: u16 = token[2..].parse().expect("two ASCII digits");
    if hours > 24 || (hours == 24 && minutes != 0) {
        return Err(format!(
            "`{token}` is not a time: hours run 00-23 (or 2400 as an end)"
        ));
    }
    if minutes > 59 {
        return Err(format!("`{token}` is not a time: minutes run 00-59"));
    }
    Ok(hours * 60 + minutes)
}

fn parse_closed_date(piece: &str) -> Result<ClosedOn, String> {
    let compact = without_spaces(piece);
    let parts: Vec<&str> = compact.split('-').collect();
    let number = |s: &str| -> u32 { s.parse().expect("ASCII digits") };
    let check_month = |m: &str| {
        if (1..=12).contains(&number(m)) {
            Ok(())
        } else {
            Err(format!("`{piece}` is not a date: months run 01-12"))
        }
    };
    match parts.as_slice() {
        [m, d] if is_digits(m, 2) && is_digits(d, 2) => {
            check_month(m)?;
            let (month, day) = (number(m), number(d));
            // 2000 is a leap year, so 02-29 is accepted here and simply never matches in other years.
            match NaiveDate::from_ymd_opt(2000, month, day) {
                Some(_) => Ok(ClosedOn::Yearly { month, day }),
                None => Err(format!("`{piece}` is not a date: month {m} has no day {d}")),
            }
        }
        [y, m, d] if is_digits(y, 4) && is_digits(m, 2) && is_digits(d, 2) => {
            check_month(m)?;
            NaiveDate::from_ymd_opt(number(y) as i32, number(m), number(d))
                .map(ClosedOn::Date)
                .ok_or_else(|| format!("`{piece}` is not a date: {y}-{m} has no day {d}"))
        }
        _ => Err(format!("expected MM-DD or YYYY-MM-DD, `{piece}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Weekday};

    const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    fn hours(days: &[(&str, &str)], closed_on: &str) -> OpeningHours {
        let mut week: [Vec<TimeRange>; 7] = Default::default();
        for (name, value) in days {
            let i = DAY_NAMES.iter().position(|d| d == name).expect("day name");
            week[i] = parse_day(value).expect("valid day value");
        }
        OpeningHours::new(week, parse_closed_on(closed_on).expect("valid closed_on"))
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// An instant given as an unambiguous wall-clock time in `tz`.
    fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    fn range(start: u16, end: u16) -> TimeRange {
        TimeRange::new(start, end).unwrap()
    }

    fn err(value: &str) -> String {
        parse_day(value).expect_err(value)
    }

    fn closed_err(value: &str) -> String {
        parse_closed_on(value).expect_err(value)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const UTC: Tz = Tz::UTC;

    // ---- parse_day ----

    #[test]
    fn legacy_format_with_spaces_anywhere() {
        assert_eq!(parse_day(" 0900 - 1700 "), Ok(vec![range(540, 1020)]));
        assert_eq!(parse_day("09 00-17 00"), Ok(vec![range(540, 1020)]));
        assert_eq!(parse_day("0900-1700"), Ok(vec![range(540, 1020)]));
        assert_eq!(
            parse_day(" 0900 - 1700 ").unwrap()[0].to_string(),
            "0900-1700"
        );
    }

    #[test]
    fn several_ranges() {
        let want = vec![range(540, 750), range(810, 1050)];
        assert_eq!(parse_day("0900-1230, 1330-1730"), Ok(want.clone()));
        assert_eq!(parse_day("0900-1230,1330-1730"), Ok(want));
        let shown: Vec<String> = parse_day("0900-1230 , 1330-1730")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["0900-1230", "1330-1730"]);
    }

    #[test]
    fn open_closed_and_empty() {
        for v in ["", "   ", "closed", "CLOSED", " Closed "] {
            assert_eq!(parse_day(v), Ok(vec![]), "{v:?}");
        }
        for v in ["open", "OPEN", " Open "] {
            assert_eq!(parse_day(v), Ok(vec![TimeRange::ALL_DAY]), "{v:?}");
        }
        assert_eq!(parse_day("0000-2400"), Ok(vec![TimeRange::ALL_DAY]));
        assert_eq!(TimeRange::ALL_DAY.to_string(), "0000-2400");
    }

    #[test]
    fn end_of_2400() {
        let r = parse_day("1800-2400").unwrap()[0];
        assert_eq!((r.start(), r.end()), (1080, 1440));
        assert!(!r.is_overnight());
        assert_eq!(r.to_string(), "1800-2400");
    }

    #[test]
    fn overnight_and_single_minute_shapes() {
        let r = parse_day("2200-0200").unwrap()[0];
        assert!(r.is_overnight());
        assert_eq!(r.to_string(), "2200-0200");
        let r = parse_day("1200-1200").unwrap()[0];
        assert!(!r.is_overnight());
        assert_eq!(r.to_string(), "1200-1200");
        assert_eq!(parse_day("0000-1159").unwrap()[0].to_string(), "0000-1159");
        assert_eq!(parse_day("0000-2359").unwrap()[0].to_string(), "0000-2359");
    }

    #[test]
    fn shape_errors_name_the_piece() {
        assert_eq!(err("9-17"), "expected HHMM-HHMM, `9-17`");
        assert_eq!(err("0900"), "expected HHMM-HHMM, `0900`");
        assert_eq!(err("09:00-17:00"), "expected HHMM-HHMM, `09:00-17:00`");
        assert_eq!(
            err("0900-1000-1100"),
            "expected HHMM-HHMM, `0900-1000-1100`"
        );
        assert_eq!(err("0900–1700"), "expected HHMM-HHMM, `0900–1700`");
        assert_eq!(err("abcd-efgh"), "expected HHMM-HHMM, `abcd-efgh`");
        assert_eq!(err("0900-1200, 13-17"), "expected HHMM-HHMM, `13-17`");
        assert_eq!(err("-1700"), "expected HHMM-HHMM, `-1700`");
    }

    #[test]
    fn time_errors_name_the_time() {
        assert_eq!(
            err("2500-2600"),
            "`2500` is not a time: hours run 00-23 (or 2400 as an end)"
        );
        assert_eq!(
            err("0900-2401"),
            "`2401` is not a time: hours run 00-23 (or 2400 as an end)"
        );
        assert_eq!(err("1260-1300"), "`1260` is not a time: minutes run 00-59");
        assert_eq!(err("0900-1799"), "`1799` is not a time: minutes run 00-59");
        let e = err("2400-0100");
        assert!(e.starts_with("`2400-0100` starts at 2400"), "{e}");
    }

    #[test]
    fn comma_errors() {
        assert!(err("0900-1200,").starts_with("trailing comma"));
        assert!(err("0900-1200, ").starts_with("trailing comma"));
        assert!(err(",0900-1200").starts_with("leading comma"));
        assert!(err(",").starts_with("leading comma"));
        assert_eq!(
            err("0900-1200,,1300-1400"),
            "two commas with nothing between them"
        );
        assert_eq!(
            err("0900-1200, ,1300-1400"),
            "two commas with nothing between them"
        );
    }

    #[test]
    fn keywords_do_not_mix_with_ranges() {
        assert_eq!(
            err("open, 0900-1000"),
            "`open` can't be mixed with ranges: write it alone"
        );
        assert_eq!(
            err("0900-1000, Closed"),
            "`Closed` can't be mixed with ranges: write it alone"
        );
    }

    #[test]
    fn time_range_new_checks_bounds() {
        assert!(TimeRange::new(0, 0).is_some());
        assert!(TimeRange::new(1439, 1440).is_some());
        assert!(TimeRange::new(1440, 1440).is_none());
        assert!(TimeRange::new(0, 1441).is_none());
        assert_eq!(TimeRange::new(0, 1440), Some(TimeRange::ALL_DAY));
    }

    // ---- parse_closed_on ----

    #[test]
    fn closed_on_list() {
        assert_eq!(
            parse_closed_on("12-25, 2026-04-03"),
            Ok(vec![
                ClosedOn::Yearly { month: 12, day: 25 },
                ClosedOn::Date(date(2026, 4, 3))
            ])
        );
        assert_eq!(parse_closed_on(""), Ok(vec![]));
        assert_eq!(parse_closed_on("  "), Ok(vec![]));
        assert_eq!(
            parse_closed_on(" 02-29 "),
            Ok(vec![ClosedOn::Yearly { month: 2, day: 29 }])
        );
        assert_eq!(
            parse_closed_on("2028-02-29"),
            Ok(vec![ClosedOn::Date(date(2028, 2, 29))])
        );
        let shown: Vec<String> = parse_closed_on("01-01,2026-04-03")
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["01-01", "2026-04-03"]);
    }

    #[test]
    fn closed_on_errors() {
        assert_eq!(
            closed_err("02-30"),
            "`02-30` is not a date: month 02 has no day 30"
        );
        assert_eq!(
            closed_err("04-31"),
            "`04-31` is not a date: month 04 has no day 31"
        );
        assert_eq!(
            closed_err("2026-02-29"),
            "`2026-02-29` is not a date: 2026-02 has no day 29"
        );
        assert_eq!(
            closed_err("13-01"),
            "`13-01` is not a date: months run 01-12"
        );
        assert_eq!(
            closed_err("00-10"),
            "`00-10` is not a date: months run 01-12"
        );
        assert_eq!(
            closed_err("2026-13-01"),
            "`2026-13-01` is not a date: months run 01-12"
        );
        assert_eq!(
            closed_err("12-00"),
            "`12-00` is not a date: month 12 has no day 00"
        );
        assert_eq!(closed_err("12/25"), "expected MM-DD or YYYY-MM-DD, `12/25`");
        assert_eq!(closed_err("1225"), "expected MM-DD or YYYY-MM-DD, `1225`");
        assert_eq!(closed_err("1-5"), "expected MM-DD or YYYY-MM-DD, `1-5`");
        assert_eq!(
            closed_err("26-04-03"),
            "expected MM-DD or YYYY-MM-DD, `26-04-03`"
        );
        assert!(closed_err("12-25,").starts_with("trailing comma"));
        assert!(closed_err("12-25,,01-01").starts_with("two commas"));
    }

    // ---- is_open: minutes and ranges ----

    #[test]
    fn end_minute_counts_whole() {
        let h = hours(&[("mon", "0000-1159")], "");
        assert_eq!(date(2026, 1, 5).weekday(), Weekday::Mon);
        assert!(h.is_open(utc(2026, 1, 5, 0, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 11, 59, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 12, 0, 0), UTC));
    }

    #[test]
    fn whole_day_up_to_2359() {
        let h = hours(&[("mon", "0000-2359")], "");
        assert!(h.is_open(utc(2026, 1, 5, 23, 59, 30), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 23, 59, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 6, 0, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 4, 23, 59, 59), UTC));
    }

    #[test]
    fn open_all_day_does_not_spill_into_tomorrow() {
        for value in ["open", "0000-2400", "1800-2400"] {
            let h = hours(&[("mon", value)], "");
            assert!(h.is_open(utc(2026, 1, 5, 23, 59, 59), UTC), "{value}");
            assert!(!h.is_open(utc(2026, 1, 6, 0, 0, 0), UTC), "{value}");
        }
        let h = hours(&[("mon", "open")], "");
        assert!(h.is_open(utc(2026, 1, 5, 0, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 4, 23, 59, 59), UTC));
    }

    #[test]
    fn start_and_end_edges() {
        let h = hours(&[("mon", "0900-1730")], "");
        assert!(!h.is_open(utc(2026, 1, 5, 8, 59, 59), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 9, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 17, 30, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 17, 31, 0), UTC));
        // Same hours on another weekday are not Monday's.
        assert!(!h.is_open(utc(2026, 1, 6, 12, 0, 0), UTC));
    }

    #[test]
    fn gaps_and_overlaps() {
        let h = hours(&[("mon", "0900-1230, 1330-1730")], "");
        assert!(h.is_open(utc(2026, 1, 5, 12, 30, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 12, 45, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 13, 29, 59), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 13, 30, 0), UTC));

        let h = hours(&[("mon", "0900-1200, 1100-1400")], "");
        assert!(h.is_open(utc(2026, 1, 5, 11, 30, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 13, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 14, 1, 0), UTC));
    }

    #[test]
    fn single_minute_range() {
        let h = hours(&[("mon", "1200-1200")], "");
        assert!(!h.is_open(utc(2026, 1, 5, 11, 59, 59), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 12, 0, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 12, 1, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 6, 12, 0, 0), UTC));
    }

    #[test]
    fn never_open_by_default() {
        let h = OpeningHours::default();
        assert!(!h.is_open(utc(2026, 1, 5, 12, 0, 0), UTC));
        assert!((0..7).all(|i| h.day(i).is_empty()));
        assert!(h.closed_on().is_empty());
    }

    #[test]
    fn accessors_return_what_was_given() {
        let h = hours(&[("fri", "2200-0200"), ("sun", "open")], "12-25");
        assert_eq!(h.day(4), &[range(1320, 120)]);
        assert_eq!(h.day(6), &[TimeRange::ALL_DAY]);
        assert!(h.day(0).is_empty());
        assert_eq!(h.closed_on(), &[ClosedOn::Yearly { month: 12, day: 25 }]);
    }

    // ---- is_open: overnight ----

    #[test]
    fn overnight_friday_into_saturday() {
        let h = hours(&[("fri", "2200-0200")], "");
        assert_eq!(date(2026, 1, 2).weekday(), Weekday::Fri);
        assert!(!h.is_open(utc(2026, 1, 2, 21, 59, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 2, 22, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 2, 23, 59, 59), UTC));
        assert!(h.is_open(utc(2026, 1, 3, 0, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 3, 1, 30, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 3, 2, 0, 30), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 2, 1, 0), UTC));
        // Saturday evening is not Friday's range again.
        assert!(!h.is_open(utc(2026, 1, 3, 22, 30, 0), UTC));
        // Friday's early morning is not covered by Friday's own overnight range.
        assert!(!h.is_open(utc(2026, 1, 2, 1, 0, 0), UTC));
    }

    #[test]
    fn overnight_joins_the_next_days_own_hours() {
        let h = hours(&[("fri", "2200-0200"), ("sat", "1000-1200")], "");
        assert!(h.is_open(utc(2026, 1, 3, 1, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 3, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 3, 10, 30, 0), UTC));
    }

    #[test]
    fn overnight_ending_at_0000_keeps_that_minute() {
        let h = hours(&[("fri", "2200-0000")], "");
        assert!(h.is_open(utc(2026, 1, 3, 0, 0, 30), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 0, 1, 0), UTC));
    }

    #[test]
    fn overnight_wraps_sunday_into_monday() {
        let h = hours(&[("sun", "2300-0100")], "");
        assert!(h.is_open(utc(2026, 1, 4, 23, 30, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 0, 30, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 5, 1, 0, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 1, 1, 0), UTC));
        // Only yesterday spills over: Saturday's range doesn't reach Monday.
        let h = hours(&[("sat", "2300-0100")], "");
        assert!(h.is_open(utc(2026, 1, 4, 0, 30, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 0, 30, 0), UTC));
        // Monday's overnight reaches Tuesday, not back into Sunday.
        let h = hours(&[("mon", "2300-0100")], "");
        assert!(h.is_open(utc(2026, 1, 6, 0, 30, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 4, 0, 30, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 5, 0, 30, 0), UTC));
    }

    // ---- is_open: closed_on ----

    #[test]
    fn closed_on_yearly() {
        let all_week: Vec<(&str, &str)> = DAY_NAMES.iter().map(|d| (*d, "open")).collect();
        let h = hours(&all_week, "12-25");
        assert!(!h.is_open(utc(2026, 12, 25, 12, 0, 0), UTC));
        assert!(!h.is_open(utc(2027, 12, 25, 0, 0, 0), UTC));
        assert!(!h.is_open(utc(2027, 12, 25, 23, 59, 59), UTC));
        assert!(h.is_open(utc(2026, 12, 24, 23, 59, 59), UTC));
        assert!(h.is_open(utc(2026, 12, 26, 0, 0, 0), UTC));
        // Same day of another month.
        assert!(h.is_open(utc(2026, 11, 25, 12, 0, 0), UTC));
    }

    #[test]
    fn closed_on_leap_day_only_in_leap_years() {
        let all_week: Vec<(&str, &str)> = DAY_NAMES.iter().map(|d| (*d, "open")).collect();
        let h = hours(&all_week, "02-29");
        assert!(!h.is_open(utc(2028, 2, 29, 12, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 2, 28, 12, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 3, 1, 12, 0, 0), UTC));
    }

    #[test]
    fn closed_on_one_date() {
        let all_week: Vec<(&str, &str)> = DAY_NAMES.iter().map(|d| (*d, "open")).collect();
        let h = hours(&all_week, "2026-04-03");
        assert!(!h.is_open(utc(2026, 4, 3, 12, 0, 0), UTC));
        assert!(h.is_open(utc(2027, 4, 3, 12, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 4, 2, 12, 0, 0), UTC));
    }

    #[test]
    fn overnight_from_a_closed_day_does_not_spill_over() {
        let h = hours(&[("fri", "2200-0200")], "2026-01-02");
        assert!(!h.is_open(utc(2026, 1, 2, 23, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 1, 0, 0), UTC));
        // The next Friday is a normal one.
        assert!(h.is_open(utc(2026, 1, 9, 23, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 10, 1, 0, 0), UTC));

        let h = hours(&[("fri", "2200-0200")], "01-02");
        assert!(!h.is_open(utc(2026, 1, 3, 1, 0, 0), UTC));
        assert!(h.is_open(utc(2026, 1, 10, 1, 0, 0), UTC));
    }

    #[test]
    fn overnight_into_a_closed_day_stops_at_midnight() {
        let h = hours(&[("fri", "2200-0200")], "2026-01-03");
        assert!(h.is_open(utc(2026, 1, 2, 23, 59, 59), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 0, 0, 0), UTC));
        assert!(!h.is_open(utc(2026, 1, 3, 1, 0, 0), UTC));
    }

    // ---- is_open: timezones and DST ----

    #[test]
    fn london_spring_forward() {
        let tz = chrono_tz::Europe::London;
        assert_eq!(date(2026, 3, 29).weekday(), Weekday::Sun);
        // Local 01:00-01:59 doesn't exist that day; 01:00 UTC is already 02:00 BST.
        let h = hours(&[("sun", "0100-0200")], "");
        assert!(!h.is_open(utc(2026, 3, 29, 0, 59, 59), tz));
        assert!(h.is_open(utc(2026, 3, 29, 1, 0, 0), tz));
        assert!(h.is_open(utc(2026, 3, 29, 1, 0, 59), tz));
        assert!(!h.is_open(utc(2026, 3, 29, 1, 1, 0), tz));
        assert!(!h.is_open(utc(2026, 3, 29, 1, 30, 0), tz));

        let h = hours(&[("sun", "0930-1700")], "");
        assert!(!h.is_open(utc(2026, 3, 29, 8, 29, 59), tz));
        assert!(h.is_open(utc(2026, 3, 29, 8, 30, 0), tz));
        assert!(h.is_open(utc(2026, 3, 29, 16, 0, 59), tz));
        assert!(!h.is_open(utc(2026, 3, 29, 16, 1, 0), tz));
    }

    #[test]
    fn london_fall_back() {
        let tz = chrono_tz::Europe::London;
        assert_eq!(date(2026, 10, 25).weekday(), Weekday::Sun);
        let bst = utc(2026, 10, 25, 0, 30, 0);
        let gmt = utc(2026, 10, 25, 1, 30, 0);
        for instant in [bst, gmt] {
            let wall = instant.with_timezone(&tz);
            assert_eq!((wall.hour(), wall.minute()), (1, 30));
        }
        let h = hours(&[("sun", "0100-0159")], "");
        assert!(!h.is_open(utc(2026, 10, 24, 23, 59, 59), tz));
        assert!(h.is_open(utc(2026, 10, 25, 0, 0, 0), tz));
        assert!(h.is_open(bst, tz));
        assert!(h.is_open(gmt, tz));
        assert!(h.is_open(utc(2026, 10, 25, 1, 59, 59), tz));
        assert!(!h.is_open(utc(2026, 10, 25, 2, 0, 0), tz));

        let h = hours(&[("fri", "0900-1700"), ("mon", "0900-1700")], "");
        assert!(h.is_open(utc(2026, 10, 23, 8, 0, 0), tz));
        assert!(!h.is_open(utc(2026, 10, 26, 8, 0, 0), tz));
        assert!(h.is_open(utc(2026, 10, 26, 9, 0, 0), tz));
        assert!(h.is_open(local(tz, 2026, 10, 26, 17, 0, 59), tz));
        assert!(!h.is_open(local(tz, 2026, 10, 26, 17, 1, 0), tz));
    }

    #[test]
    fn new_york_spring_forward() {
        let tz = chrono_tz::America::New_York;
        assert_eq!(date(2026, 3, 8).weekday(), Weekday::Sun);
        let h = hours(&[("sun", "0900-1700")], "");
        // EDT (UTC-4) on the change day…
        assert!(!h.is_open(utc(2026, 3, 8, 12, 59, 59), tz));
        assert!(h.is_open(utc(2026, 3, 8, 13, 0, 0), tz));
        assert!(h.is_open(utc(2026, 3, 8, 21, 0, 59), tz));
        assert!(!h.is_open(utc(2026, 3, 8, 21, 1, 0), tz));
        // …EST (UTC-5) the Sunday before.
        assert!(!h.is_open(utc(2026, 3, 1, 13, 0, 0), tz));
        assert!(h.is_open(utc(2026, 3, 1, 14, 0, 0), tz));

        // 02:00-02:59 never happens that day.
        let h = hours(&[("sun", "0200-0259")], "");
        assert!(!h.is_open(utc(2026, 3, 8, 6, 59, 59), tz));
        assert!(!h.is_open(utc(2026, 3, 8, 7, 0, 0), tz));
        assert!(!h.is_open(utc(2026, 3, 8, 7, 30, 0), tz));
    }

    #[test]
    fn new_york_fall_back() {
        let tz = chrono_tz::America::New_York;
        assert_eq!(date(2026, 11, 1).weekday(), Weekday::Sun);
        let h = hours(&[("sun", "0100-0159")], "");
        assert!(!h.is_open(utc(2026, 11, 1, 4, 59, 59), tz));
        assert!(h.is_open(utc(2026, 11, 1, 5, 30, 0), tz)); // 01:30 EDT
        assert!(h.is_open(utc(2026, 11, 1, 6, 30, 0), tz)); // 01:30 EST
        assert!(!h.is_open(utc(2026, 11, 1, 7, 0, 0), tz)); // 02:00 EST
    }

    #[test]
    fn auckland_local_date_differs_from_utc() {
        let tz = chrono_tz::Pacific::Auckland;
        let h = hours(&[("mon", "0900-1700")], "");
        // NZDT is UTC+13: Sunday 20:00 UTC is Monday 09:00 in Auckland.
        assert_eq!(date(2026, 1, 4).weekday(), Weekday::Sun);
        assert!(!h.is_open(utc(2026, 1, 4, 19, 59, 59), tz));
        assert!(h.is_open(utc(2026, 1, 4, 20, 0, 0), tz));
        assert!(h.is_open(utc(2026, 1, 5, 4, 0, 59), tz));
        assert!(!h.is_open(utc(2026, 1, 5, 4, 1, 0), tz));
        // Monday 12:00 UTC is Tuesday 01:00 there.
        assert!(!h.is_open(utc(2026, 1, 5, 12, 0, 0), tz));
        // NZST is UTC+12 in July.
        assert!(!h.is_open(utc(2026, 7, 5, 20, 30, 0), tz));
        assert!(h.is_open(utc(2026, 7, 5, 21, 0, 0), tz));

        // closed_on is the local date, not the UTC one.
        let h_local = hours(&[("mon", "0900-1700")], "01-05");
        assert!(!h_local.is_open(utc(2026, 1, 4, 22, 0, 0), tz));
        let h_utc = hours(&[("mon", "0900-1700")], "01-04");
        assert!(h_utc.is_open(utc(2026, 1, 4, 22, 0, 0), tz));
    }

    #[test]
    fn auckland_overnight_across_the_utc_date() {
        let tz = chrono_tz::Pacific::Auckland;
        let h = hours(&[("fri", "2200-0200")], "");
        // Friday 22:30 NZDT is Friday 09:30 UTC; Saturday 01:30 NZDT is Friday 12:30 UTC.
        assert!(h.is_open(local(tz, 2026, 1, 2, 22, 30, 0), tz));
        assert!(h.is_open(utc(2026, 1, 2, 12, 30, 0), tz));
        assert!(!h.is_open(utc(2026, 1, 2, 13, 1, 0), tz));
        assert!(!h.is_open(utc(2026, 1, 2, 23, 0, 0), tz));
    }
}
