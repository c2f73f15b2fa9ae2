//! Command-line parsing the way GNU `getopt_long` does it, so that command lines written for
//! inotify-tools parse the same: bundled short options (`-qm`), values attached or separate
//! (`-t5`, `-t 5`, `--timeout=5`, `--timeout 5`), unambiguous abbreviations of long options
//! (`--mon`), options after the paths, and `--` to end the options.

/// One option a tool takes.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// The short letter, if any.
    pub short: Option<char>,
    /// The long name (also the option's identity in the results).
    pub long: &'static str,
    /// Whether it takes a value.
    pub value: bool,
}

/// An option found on the command line: its long name and its value.
pub type Found = (&'static str, Option<String>);

/// Splits `args` into options (in command-line order) and operands. The error is the
/// message `getopt_long` prints after `prog: `.
pub fn parse(opts: &[Opt], args: &[String]) -> Result<(Vec<Found>, Vec<String>), String> {
    let mut found = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let opt = long_match(opts, name, arg)?;
            let value = if opt.value {
                match attached {
                    Some(v) => Some(v),
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => return Err(format!("option '--{}' requires an argument", opt.long)),
                }
            } else if attached.is_some() {
                return Err(format!("option '--{}' doesn't allow an argument", opt.long));
            } else {
                None
            };
            found.push((opt.long, value));
            continue;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            operands.push(arg.clone());
            continue;
        }
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let c = letters[k];
            k += 1;
            let opt = opts
                .iter()
                .find(|o| o.short == Some(c))
                .ok_or_else(|| format!("invalid option -- '{c}'"))?;
            if !opt.value {
                found.push((opt.long, None));
                continue;
            }
            let rest: String = letters[k..].iter().collect();
            let value = if !rest.is_empty() {
                rest
            } else if i < args.len() {
                i += 1;
                args[i - 1].clone()
            } else {
                return Err(format!("option requires an argument -- '{c}'"));
            };
            found.push((opt.long, Some(value)));
            break;
        }
    }
    Ok((found, operands))
}

/// The long option `name` stands for: an exact name, or the only one it abbreviates.
fn long_match<'a>(opts: &'a [Opt], name: &str, arg: &str) -> Result<&'a Opt, String> {
    let unknown = || {
        format!(
            "unrecognized option '{}'",
            arg.split('=').next().unwrap_or(arg)
        )
    };
    if name.is_empty() {
        return Err(unknown());
    }
    if let Some(o) = opts.iter().find(|o| o.long == name) {
        return Ok(o);
    }
    let candidates: Vec<&Opt> = opts.iter().filter(|o| o.long.starts_with(name)).collect();
    match candidates.as_slice() {
        [] => Err(unknown()),
        [one] => Ok(one),
        many => {
            let names: Vec<String> = many.iter().map(|o| format!("'--{}'", o.long)).collect();
            Err(format!(
                "option '--{name}' is ambiguous; possibilities: {}",
                names.join(" ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &[Opt] = &[
        Opt {
            short: Some('m'),
            long: "monitor",
            value: false,
        },
        Opt {
            short: Some('q'),
            long: "quiet",
            value: false,
        },
        Opt {
            short: Some('t'),
            long: "timeout",
            value: true,
        },
        Opt {
            short: None,
            long: "exclude",
            value: true,
        },
        Opt {
            short: None,
            long: "excludei",
            value: true,
        },
    ];

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn bundles_attached_values_and_late_options_parse_as_getopt_long_does() {
        let (found, ops) = parse(OPTS, &args("a -qmt5 b --mon --timeout=7 -- -c")).unwrap();
        assert_eq!(
            found,
            vec![
                ("quiet", None),
                ("monitor", None),
                ("timeout", Some("5".into())),
                ("monitor", None),
                ("timeout", Some("7".into())),
            ]
        );
        assert_eq!(ops, args("a b -c"));
        assert_eq!(
            parse(OPTS, &args("--exclude x --excl y")).unwrap_err(),
            "option '--excl' is ambiguous; possibilities: '--exclude' '--excludei'"
        );
    }

    #[test]
    fn bad_options_get_getopt_long_messages() {
        assert_eq!(
            parse(OPTS, &args("-x")).unwrap_err(),
            "invalid option -- 'x'"
        );
        assert_eq!(
            parse(OPTS, &args("--nope=1")).unwrap_err(),
            "unrecognized option '--nope'"
        );
        assert_eq!(
            parse(OPTS, &args("-t")).unwrap_err(),
            "option requires an argument -- 't'"
        );
        assert_eq!(
            parse(OPTS, &args("--timeout")).unwrap_err(),
            "option '--timeout' requires an argument"
        );
        assert_eq!(
            parse(OPTS, &args("--monitor=1")).unwrap_err(),
            "option '--monitor' doesn't allow an argument"
        );
    }
}
