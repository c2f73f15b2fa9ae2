//! The tunables under `/scheme/inotify/<name>` (Linux's `/proc/sys/fs/inotify/*`, FreeBSD's
//! `vfs.inotify.*`).

use inotify_abi::proto::TUNABLES;
use inotify_engine::{Engine, Limits};
use syscall::error::{Error, Result, EINVAL};

/// One tunable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunable {
    /// `max_queued_events`.
    MaxQueuedEvents,
    /// `max_user_instances`.
    MaxUserInstances,
    /// `max_user_watches`.
    MaxUserWatches,
    /// `max_watches`.
    MaxWatches,
    /// `event_drops` (read-only counter).
    EventDrops,
    /// `max_user_queued_bytes`.
    MaxUserQueuedBytes,
    /// `max_total_queued_bytes`.
    MaxTotalQueuedBytes,
}

impl Tunable {
    /// The tunable named `name` (one of [`TUNABLES`]).
    pub fn from_name(name: &str) -> Option<Tunable> {
        let at = TUNABLES.iter().position(|&n| n == name)?;
        Some(
            [
                Tunable::MaxQueuedEvents,
                Tunable::MaxUserInstances,
                Tunable::MaxUserWatches,
                Tunable::MaxWatches,
                Tunable::EventDrops,
                Tunable::MaxUserQueuedBytes,
                Tunable::MaxTotalQueuedBytes,
            ][at],
        )
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        TUNABLES[self as usize]
    }

    /// Whether it can be written at all.
    pub fn is_writable(self) -> bool {
        self != Tunable::EventDrops
    }

    /// Its current value.
    pub fn get(self, engine: &Engine) -> u64 {
        let l = engine.limits();
        match self {
            Tunable::MaxQueuedEvents => l.max_queued_events.into(),
            Tunable::MaxUserInstances => l.max_user_instances.into(),
            Tunable::MaxUserWatches => l.max_user_watches.into(),
            Tunable::MaxWatches => l.max_watches.into(),
            Tunable::EventDrops => engine.event_drops(),
            Tunable::MaxUserQueuedBytes => l.max_user_queued_bytes.into(),
            Tunable::MaxTotalQueuedBytes => l.max_total_queued_bytes.into(),
        }
    }

    /// Its value as read: decimal and a newline.
    pub fn text(self, engine: &Engine) -> String {
        format!("{}\n", self.get(engine))
    }

    /// Sets it from written text (decimal, optional surrounding whitespace, at most
    /// `i32::MAX` like Linux's `proc_dointvec_minmax`); `EINVAL` for anything else.
    pub fn set(self, engine: &mut Engine, text: &[u8]) -> Result<()> {
        let value = parse_value(text).ok_or(Error::new(EINVAL))?;
        let mut l: Limits = engine.limits();
        match self {
            Tunable::MaxQueuedEvents => l.max_queued_events = value,
            Tunable::MaxUserInstances => l.max_user_instances = value,
            Tunable::MaxUserWatches => l.max_user_watches = value,
            Tunable::MaxWatches => l.max_watches = value,
            Tunable::MaxUserQueuedBytes => l.max_user_queued_bytes = value,
            Tunable::MaxTotalQueuedBytes => l.max_total_queued_bytes = value,
            Tunable::EventDrops => return Err(Error::new(EINVAL)),
        }
        engine.set_limits(l);
        Ok(())
    }
}

/// Parses a written tunable value.
fn parse_value(text: &[u8]) -> Option<u32> {
    let s = core::str::from_utf8(text).ok()?.trim();
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (v <= i32::MAX as u32).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in TUNABLES {
            assert_eq!(Tunable::from_name(name).unwrap().name(), name);
        }
        assert_eq!(Tunable::from_name("nope"), None);
        assert_eq!(Tunable::from_name(""), None);
    }

    #[test]
    fn values_parse_like_linux() {
        assert_eq!(parse_value(b"16\n"), Some(16));
        assert_eq!(parse_value(b" 0 "), Some(0));
        assert_eq!(parse_value(b"2147483647"), Some(i32::MAX as u32));
        assert_eq!(parse_value(b"2147483648"), None);
        assert_eq!(parse_value(b"-1"), None);
        assert_eq!(parse_value(b"+1"), None);
        assert_eq!(parse_value(b"1x"), None);
        assert_eq!(parse_value(b""), None);
        assert_eq!(parse_value(b"\xff"), None);
    }
}
