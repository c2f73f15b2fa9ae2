//! `inotifywait`'s output: the default line (`%w %,e %f`), `--format` with `--timefmt`,
//! and `--csv`.

use inotify_client::OwnedEvent;

use crate::events::{to_str, to_str_sep};

/// The default line format.
pub const DEFAULT: &str = "%w %,e %f\n";

/// Expands `fmt` for `ev` on the watch named `watch`:
/// `%w` the watch's name, `%f` the event's name, `%e` the events comma-separated, `%Xe`
/// separated by the character X, `%c` the cookie in hex, `%T` the time now in `timefmt`
/// (strftime; nothing without one), `%0` a NUL, `%n` a newline, `%%` a `%`. Anything else
/// after `%` is copied as it is. A `%` at the end, or a time format that gives nothing,
/// ends the output there (as inotify-tools does).
pub fn expand(fmt: &str, watch: &str, ev: &OwnedEvent, timefmt: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let push = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            push(&mut out, c.encode_utf8(&mut [0; 4]));
            i += 1;
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            break;
        };
        i += 2;
        match next {
            '%' => out.push(b'%'),
            '0' => out.push(0),
            'n' => out.push(b'\n'),
            'w' => push(&mut out, watch),
            'f' => out.extend_from_slice(&ev.name),
            'c' => push(&mut out, &format!("{:x}", ev.cookie)),
            'e' => push(&mut out, &to_str(ev.mask)),
            'T' => match timefmt.map(now) {
                Some(Some(t)) => push(&mut out, &t),
                Some(None) => return out,
                None => {}
            },
            sep if chars.get(i) == Some(&'e') => {
                push(&mut out, &to_str_sep(ev.mask, sep));
                i += 1;
            }
            other => {
                out.push(b'%');
                push(&mut out, other.encode_utf8(&mut [0; 4]));
            }
        }
    }
    out
}

/// The local time now in strftime's `fmt`; `None` when it gives nothing (as an empty or
/// too long result).
pub fn now(fmt: &str) -> Option<String> {
    let cfmt = std::ffi::CString::new(fmt).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: `time` and `localtime_r` write only to the locals given; `strftime` writes at
    // most `buf.len()` bytes into `buf` and reads the NUL-terminated `cfmt`.
    let n = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        libc::strftime(buf.as_mut_ptr().cast(), buf.len() - 1, cfmt.as_ptr(), &tm)
    };
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// `s` as one CSV field: quoted (with `"` doubled) when it holds a `"`, a `,` or a newline,
/// or starts or ends with a space.
pub fn csv_field(s: &str) -> String {
    let needs = s.contains(['"', ',', '\n']) || s.starts_with(' ') || s.ends_with(' ');
    if !needs {
        return s.to_string();
    }
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The `--csv` line: watch (left out when unknown), events, name.
pub fn csv(watch: &str, ev: &OwnedEvent) -> Vec<u8> {
    let mut line = String::new();
    if !watch.is_empty() {
        line.push_str(&csv_field(watch));
        line.push(',');
    }
    line.push_str(&csv_field(&to_str(ev.mask)));
    line.push(',');
    line.push_str(&csv_field(&ev.name_str()));
    line.push('\n');
    line.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use inotify_abi::consts::*;

    fn ev(mask: u32, name: &str) -> OwnedEvent {
        OwnedEvent {
            wd: 1,
            mask,
            cookie: 0x2a,
            name: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_default_line_keeps_a_space_before_an_empty_name() {
        assert_eq!(
            expand(DEFAULT, "d/", &ev(IN_CREATE, "f"), None),
            b"d/ CREATE f\n"
        );
        assert_eq!(
            expand(DEFAULT, "f", &ev(IN_DELETE_SELF, ""), None),
            b"f DELETE_SELF \n"
        );
    }

    #[test]
    fn every_conversion_expands() {
        let e = ev(IN_CLOSE_WRITE, "x");
        assert_eq!(
            expand("%w|%f|%e|%:e|%c|%0|%n|%%|%q|", "d/", &e, None),
            b"d/|x|CLOSE_WRITE,CLOSE|CLOSE_WRITE:CLOSE|2a|\0|\n|%|%q|"
        );
        assert_eq!(expand("a%T", "d/", &e, None), b"a");
        assert_eq!(expand("a%T|b", "d/", &e, Some("%%")), b"a%|b");
        assert_eq!(expand("a%", "d/", &e, None), b"a");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv("d/", &ev(IN_CREATE, "f")), b"d/,CREATE,f\n");
        assert_eq!(
            csv("d/", &ev(IN_CLOSE_NOWRITE, "a \"b\"")),
            b"d/,\"CLOSE_NOWRITE,CLOSE\",\"a \"\"b\"\"\"\n"
        );
        assert_eq!(csv("", &ev(IN_Q_OVERFLOW, "")), b"Q_OVERFLOW,\n");
    }
}
