//! What the plugin needs of time that `jiff` does not do by itself. Times are
//! `jiff::Timestamp`s and spans `jiff::SignedDuration`s everywhere (now is
//! `Timestamp::now()`); here are only the narrowings of jiff's parsers to what the formats
//! allow (jiff reads more): RFC 3339 in its strict shape, read and written in whole
//! seconds (`expireTime`, the kubeconfig token extension, backup names); HTTP dates in
//! the IMF-fixdate form (`Retry-After`); Go durations (`COREWEAVE_HTTP_TIMEOUT`,
//! `--request-timeout`, `--duration`), which are `std::time::Duration` because they are
//! positive by construction and go straight into timeouts; and spans in words for expiry
//! messages.

use std::time::Duration;

use jiff::fmt::friendly::{Designator, FractionalUnit, Spacing, SpanPrinter};
use jiff::{RoundMode, SignedDuration, Span, SpanRound, Timestamp, Unit};

/// An RFC 3339 timestamp (`2025-06-01T12:00:00Z`, `2025-06-01T14:00:00.5+02:00`), to
/// the whole second. `T`/`t` and `Z`/`z` in either case, as the RFC allows; anything else
/// (a missing offset, a date alone, out-of-range fields) is `None`.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    // jiff reads the wider Temporal/ISO 8601 syntax (a space for `T`, `+0200`, a bracketed
    // zone...); RFC 3339's fixed shape is checked here and jiff checks the calendar.
    const SHAPE: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";
    let b = text.as_bytes();
    let shaped = b.len() >= SHAPE.len()
        && b.iter().zip(SHAPE).all(|(&c, &want)| match want {
            b'd' => c.is_ascii_digit(),
            b'T' => matches!(c, b'T' | b't'),
            _ => c == want,
        });
    if !shaped {
        return None;
    }
    // A fraction of any length is valid RFC 3339 (jiff takes at most 9 digits); only whole
    // seconds are kept, so it is checked and dropped.
    let rest = &text[19..];
    let rest = match rest.strip_prefix('.') {
        Some(frac) => {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            &frac[n..]
        }
        None => rest,
    };
    let offset_ok = match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit())
                && (h1 - b'0') * 10 + (h2 - b'0') <= 23
                && *m1 <= b'5'
        }
        _ => false,
    };
    if !offset_ok {
        return None;
    }
    format!("{}{rest}", &text[..19]).parse().ok()
}

/// An RFC 3339 UTC timestamp to the whole second (`2025-06-01T12:00:00Z`; jiff's own
/// form would add any fraction of a second).
pub fn format_rfc3339(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// An HTTP date in the IMF-fixdate form every current server sends
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), as Unix seconds. The two obsolete
/// forms are `None`: for `Retry-After` the caller then falls back to its own backoff.
pub fn parse_http_date(text: &str) -> Option<Timestamp> {
    let s = text.trim();
    // jiff reads RFC 2822, which also takes numeric and other zones; HTTP says GMT.
    if !s.ends_with(" GMT") {
        return None;
    }
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(s)
        .ok()
}

/// Go's duration units (`time.ParseDuration`): jiff's friendly format also takes `d`,
/// `week`, `hours`, spaces and commas, which Go and kubectl refuse.
const GO_UNITS: [&str; 8] = ["ns", "us", "µs", "μs", "ms", "s", "m", "h"];

/// Why a text is not a duration [`parse_go_duration`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty")]
    Empty,
    #[error("negative")]
    Negative,
    #[error("a number without a unit")]
    NoUnit,
    #[error("unknown unit (use ns, us, ms, s, m or h)")]
    UnknownUnit,
    #[error("not a number")]
    NotANumber,
    #[error("too large")]
    TooLarge,
    #[error("zero")]
    Zero,
}

/// A Go duration (`10s`, `1m30s`, `500ms`, `1.5h`, `.5s`; units ns, us, µs, ms, s, m, h) or
/// a plain number of seconds (`10`, `2.5`). Zero, negative and empty are refused: a timeout
/// of nothing is a mistake, not "no timeout".
pub fn parse_go_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let is_number = |c: char| c.is_ascii_digit() || c == '.';
    let seconds;
    let mut rest = if s.chars().all(is_number) {
        seconds = format!("{s}s");
        seconds.as_str()
    } else {
        s
    };
    // Go takes units in any order and a fraction on any of them (`1.5h30m`), which jiff's
    // friendly format does not; so each `<number><unit>` is read by jiff on its own.
    let mut total = SignedDuration::ZERO;
    while !rest.is_empty() {
        let n = rest.find(|c| !is_number(c)).ok_or(DurationError::NoUnit)?;
        let end = rest[n..].find(is_number).map_or(rest.len(), |u| n + u);
        let (number, unit) = (&rest[..n], &rest[n..end]);
        if !GO_UNITS.contains(&unit) {
            return Err(DurationError::UnknownUnit);
        }
        total = total
            .checked_add(go_segment(number, unit)?)
            .ok_or(DurationError::TooLarge)?;
        rest = &rest[end..];
    }
    // Go's limit is about 292 years; the plugin's waits are far below 31.
    if total > SignedDuration::from_secs(1_000_000_000) {
        return Err(DurationError::TooLarge);
    }
    let d = Duration::try_from(total).map_err(|_| DurationError::Negative)?;
    if d.is_zero() {
        return Err(DurationError::Zero);
    }
    Ok(d)
}

/// One `<number><unit>` of a Go duration as jiff reads it. Go also writes `.5s` and `5.s`,
/// and any number of decimals (jiff takes nine, a nanosecond's worth of an hour is finer).
fn go_segment(number: &str, unit: &str) -> Result<SignedDuration, DurationError> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(DurationError::NotANumber);
    }
    let whole = if whole.is_empty() { "0" } else { whole };
    let frac = &frac[..frac.len().min(9)];
    // Go also spells micro with the Greek letter mu; jiff only with the micro sign.
    let unit = unit.replace('μ', "µ");
    let text = if frac.is_empty() {
        format!("{whole}{unit}")
    } else {
        format!("{whole}.{frac}{unit}")
    };
    jiff::fmt::friendly::SpanParser::new()
        .parse_duration(&text)
        .map_err(|_| DurationError::NotANumber)
}

/// A duration, short, in a form `parse_go_duration` and Go read back: `300ms`, `10s`,
/// `1m30s`, `1.5s`, `1h1s`.
pub fn format_duration(d: Duration) -> String {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    let printer = SpanPrinter::new()
        .designator(Designator::Compact)
        .spacing(Spacing::None);
    if d >= SignedDuration::from_secs(1) {
        printer
            .fractional(Some(FractionalUnit::Second))
            .duration_to_string(&d)
    } else {
        printer.duration_to_string(&d)
    }
}

/// A span in words for expiry messages, either sign, truncated to its largest unit:
/// `3 days`, `1 day`, `5 hours`, `1 hour`, `12 minutes`, `less than a minute`.
pub fn humanize(span: SignedDuration) -> String {
    let secs = span.as_secs().saturating_abs();
    let largest = match secs {
        s if s >= 86_400 => Unit::Day,
        s if s >= 3600 => Unit::Hour,
        s if s >= 60 => Unit::Minute,
        _ => return "less than a minute".into(),
    };
    let span = Span::try_from(SignedDuration::from_secs(secs))
        .and_then(|span| {
            span.round(
                SpanRound::new()
                    .largest(largest)
                    .smallest(largest)
                    .mode(RoundMode::Trunc)
                    .days_are_24_hours(),
            )
        })
        .unwrap_or_default();
    SpanPrinter::new()
        .designator(Designator::Verbose)
        .spacing(Spacing::BetweenUnitsAndDesignators)
        .span_to_string(&span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(t: Timestamp) -> i64 {
        t.as_second()
    }

    #[test]
    fn rfc3339_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").map(secs), Some(0));
        assert_eq!(
            parse_rfc3339("2025-06-01T12:00:00Z").map(secs),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T14:00:00+02:00").map(secs),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T07:30:00-04:30").map(secs),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01t12:00:00.123456789z").map(secs),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").map(secs),
            Some(1_709_164_800)
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z").map(secs), Some(-1));
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z").map(secs),
            Some(1_483_228_799)
        );
    }

    #[test]
    fn rfc3339_refuses_what_is_not_one() {
        for bad in [
            "",
            "2025-06-01",
            "2025-06-01T12:00:00",
            "2025-06-01 12:00:00Z",
            "2025-6-01T12:00:00Z",
            "2025-13-01T12:00:00Z",
            "2025-02-29T12:00:00Z",
            "2025-04-31T12:00:00Z",
            "2025-06-01T24:00:00Z",
            "2025-06-01T12:60:00Z",
            "2025-06-01T12:00:00.Z",
            "2025-06-01T12:00:00+0200",
            "2025-06-01T12:00:00+02:00x",
            "2025-06-01T12:00:00+24:00",
            "2025-06-01T12:00:00Zjunk",
            "２０２５-06-01T12:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad).map(secs), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_round_trips_through_the_formatter() {
        for t in [
            0,
            1_748_779_200,
            1_709_164_800,
            -86_400,
            4_102_444_800,
            951_782_400,
        ] {
            let ts = Timestamp::from_second(t).unwrap();
            assert_eq!(parse_rfc3339(&format_rfc3339(ts)).map(secs), Some(t), "{t}");
        }
        let ts = Timestamp::from_second(1_748_779_200).unwrap();
        assert_eq!(format_rfc3339(ts), "2025-06-01T12:00:00Z");
        // Whole seconds: a fraction is not written.
        let later = ts + SignedDuration::from_millis(999);
        assert_eq!(format_rfc3339(later), "2025-06-01T12:00:00Z");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").map(secs),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("120"), None);
        // The weekday must be the date's.
        assert_eq!(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 +0000"), None);
    }

    #[test]
    fn go_durations_and_plain_seconds() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("10s"), Ok(ms(10_000)));
        assert_eq!(parse_go_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_go_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_go_duration("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(parse_go_duration("2h45m0.5s"), Ok(ms(9_900_500)));
        assert_eq!(parse_go_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("10"), Ok(ms(10_000)));
        assert_eq!(parse_go_duration("2.5"), Ok(ms(2_500)));
        assert_eq!(parse_go_duration(" 3s "), Ok(ms(3_000)));
        for bad in [
            "", "0", "0s", "-5s", "5x", "s", "1..5s", "5 s", "1m30", "abc", "1e3s",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    /// Go's spellings, and what jiff's friendly format would take but Go and kubectl do not.
    #[test]
    fn go_duration_syntax_only() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("1h30m"), Ok(ms(5_400_000)));
        assert_eq!(parse_go_duration("+5s"), Ok(ms(5_000)));
        assert_eq!(parse_go_duration("250μs"), Ok(Duration::from_micros(250)));
        assert_eq!(
            parse_go_duration("1h2m3s4ms5us6ns"),
            Ok(Duration::new(3723, 4_005_006))
        );
        for bad in [
            "1d",
            "2 hours",
            "1h 30m",
            "1h, 30m",
            "1hour",
            "5s ago",
            "01:00:00",
            "P1D",
            "1w",
            "1000000001s",
            ".",
            ".s",
            "+.s",
            "1.2.3s",
            "1s.",
            "3h-5m",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_print_short_and_read_back() {
        let ms = Duration::from_millis;
        assert_eq!(format_duration(ms(300)), "300ms");
        assert_eq!(format_duration(ms(10_000)), "10s");
        assert_eq!(format_duration(ms(90_000)), "1m30s");
        assert_eq!(format_duration(ms(3_600_000)), "1h");
        // Go prints 1h0m1s; both read back the same.
        assert_eq!(format_duration(ms(3_601_000)), "1h1s");
        assert_eq!(format_duration(ms(1_500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(250)), "250µs");
        for d in [
            ms(1),
            ms(1_500),
            ms(90_250),
            ms(3_601_000),
            Duration::from_nanos(1_234),
        ] {
            assert_eq!(parse_go_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
    }

    #[test]
    fn spans_in_words() {
        assert_eq!(
            humanize(SignedDuration::from_secs(3 * 86_400 + 5)),
            "3 days"
        );
        assert_eq!(humanize(SignedDuration::from_secs(-86_400)), "1 day");
        assert_eq!(humanize(SignedDuration::from_secs(7200)), "2 hours");
        assert_eq!(humanize(SignedDuration::from_secs(3600)), "1 hour");
        assert_eq!(humanize(SignedDuration::from_secs(61)), "1 minute");
        assert_eq!(
            humanize(SignedDuration::from_secs(59)),
            "less than a minute"
        );
    }
}
