//! The few time formats the API side reads and writes, parsed by hand so no date crate is
//! pulled in for three small grammars: RFC 3339 timestamps (`expireTime`, the kubeconfig
//! token extension), HTTP dates (`Retry-After`) and Go durations (`COREWEAVE_HTTP_TIMEOUT`,
//! whose syntax CoreWeave's own tools use, and `--request-timeout`).
//!
//! Everything works in whole Unix seconds (fractions are validated, then dropped): expiry
//! is shown in days and retry waits are capped at seconds, so nothing needs more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now. Before 1970 (a broken clock) counts as 0.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`), valid for every year this code meets.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// `digits` ASCII digits at the start of `s`, as a number, and the rest.
fn take_digits(s: &str, digits: usize) -> Option<(u32, &str)> {
    let head = s.get(..digits)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &s[digits..]))
}

fn expect(s: &str, c: char) -> Option<&str> {
    s.strip_prefix(c)
}

/// Seconds since the epoch of a calendar date and time of day, checking every range.
fn to_unix(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // 60 is a leap second; it is read as the last second of the minute.
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let secs = i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s.min(59));
    Some(days_from_civil(year, month, day) * 86_400 + secs)
}

/// An RFC 3339 timestamp (`2025-06-01T12:00:00Z`, `2025-06-01T14:00:00.5+02:00`) as Unix
/// seconds. `T`/`t` and `Z`/`z` in either case, as the RFC allows; anything else
/// (a missing offset, a date alone, out-of-range fields) is `None`.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (year, s) = take_digits(text, 4)?;
    let (month, s) = take_digits(expect(s, '-')?, 2)?;
    let (day, s) = take_digits(expect(s, '-')?, 2)?;
    let s = s.strip_prefix(['T', 't'])?;
    let (h, s) = take_digits(s, 2)?;
    let (m, s) = take_digits(expect(s, ':')?, 2)?;
    let (sec, mut s) = take_digits(expect(s, ':')?, 2)?;
    if let Some(frac) = s.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        s = &frac[digits..];
    }
    let offset = match s {
        "Z" | "z" => 0,
        _ => {
            let sign = match s.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let (oh, rest) = take_digits(&s[1..], 2)?;
            let (om, rest) = take_digits(expect(rest, ':')?, 2)?;
            if !rest.is_empty() || oh > 23 || om > 59 {
                return None;
            }
            sign * (i64::from(oh) * 3600 + i64::from(om) * 60)
        }
    };
    Some(to_unix(i64::from(year), month, day, h, m, sec)? - offset)
}

/// An RFC 3339 UTC timestamp of Unix seconds: `2025-06-01T12:00:00Z`.
pub fn format_rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// An HTTP date in the IMF-fixdate form every current server sends
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), as Unix seconds. The two obsolete
/// forms are `None`: for `Retry-After` the caller then falls back to its own backoff.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let s = text.trim();
    let (weekday, s) = s.split_once(", ")?;
    if !["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&weekday) {
        return None;
    }
    let (day, s) = take_digits(s, 2)?;
    let s = expect(s, ' ')?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| s.starts_with(m))? as u32 + 1;
    let (year, s) = take_digits(expect(&s[3..], ' ')?, 4)?;
    let (h, s) = take_digits(expect(s, ' ')?, 2)?;
    let (m, s) = take_digits(expect(s, ':')?, 2)?;
    let (sec, s) = take_digits(expect(s, ':')?, 2)?;
    if s != " GMT" {
        return None;
    }
    to_unix(i64::from(year), month, day, h, m, sec)
}

/// A Go duration (`10s`, `1m30s`, `500ms`, `1.5h`; units ns, us, µs, ms, s, m, h) or a
/// plain number of seconds (`10`, `2.5`). Zero, negative and empty are refused: a timeout
/// of nothing is a mistake, not "no timeout".
pub fn parse_go_duration(text: &str) -> Result<Duration, &'static str> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty");
    }
    if s.starts_with('-') {
        return Err("negative");
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let total = if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        number(s)? * 1e9
    } else {
        let mut rest = s;
        let mut total = 0f64;
        while !rest.is_empty() {
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or("a number without a unit")?;
            let value = number(&rest[..n])?;
            let unit_len = rest[n..]
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len() - n);
            let nanos_per = match &rest[n..n + unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                _ => return Err("unknown unit (use ns, us, ms, s, m or h)"),
            };
            total += value * nanos_per;
            rest = &rest[n + unit_len..];
        }
        total
    };
    if !total.is_finite() || total > 1e18 {
        return Err("too large");
    }
    let d = Duration::from_nanos(total.round() as u64);
    if d.is_zero() {
        return Err("zero");
    }
    Ok(d)
}

fn number(s: &str) -> Result<f64, &'static str> {
    if s.is_empty() || s == "." || s.matches('.').count() > 1 {
        return Err("not a number");
    }
    s.parse::<f64>().map_err(|_| "not a number")
}

/// A duration as Go prints it, short: `300ms`, `10s`, `1m30s`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return if ms > 0 || d.is_zero() {
            format!("{ms}ms")
        } else {
            format!("{}µs", d.as_micros())
        };
    }
    if !ms.is_multiple_of(1000) {
        let secs = d.as_secs_f64();
        return format!("{}s", (secs * 1000.0).round() / 1000.0);
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 || (h > 0 && s > 0) {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A span of seconds in words for expiry messages: `3 days`, `1 day`, `5 hours`,
/// `1 hour`, `12 minutes`, `less than a minute`.
pub fn humanize_secs(secs: i64) -> String {
    let secs = secs.unsigned_abs();
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match secs {
        s if s >= 86_400 => plural(s / 86_400, "day"),
        s if s >= 3600 => plural(s / 3600, "hour"),
        s if s >= 60 => plural(s / 60, "minute"),
        _ => "less than a minute".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-06-01T12:00:00Z"), Some(1_748_779_200));
        assert_eq!(
            parse_rfc3339("2025-06-01T14:00:00+02:00"),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T07:30:00-04:30"),
            Some(1_748_779_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01t12:00:00.123456789z"),
            Some(1_748_779_200)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), Some(1_483_228_799));
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
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
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
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
        assert_eq!(format_rfc3339(1_748_779_200), "2025-06-01T12:00:00Z");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("120"), None);
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

    #[test]
    fn durations_print_like_go() {
        let ms = Duration::from_millis;
        assert_eq!(format_duration(ms(300)), "300ms");
        assert_eq!(format_duration(ms(10_000)), "10s");
        assert_eq!(format_duration(ms(90_000)), "1m30s");
        assert_eq!(format_duration(ms(3_600_000)), "1h");
        assert_eq!(format_duration(ms(3_601_000)), "1h0m1s");
        assert_eq!(format_duration(ms(1_500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(250)), "250µs");
    }

    #[test]
    fn spans_in_words() {
        assert_eq!(humanize_secs(3 * 86_400 + 5), "3 days");
        assert_eq!(humanize_secs(-86_400), "1 day");
        assert_eq!(humanize_secs(7200), "2 hours");
        assert_eq!(humanize_secs(3600), "1 hour");
        assert_eq!(humanize_secs(61), "1 minute");
        assert_eq!(humanize_secs(59), "less than a minute");
    }
}
