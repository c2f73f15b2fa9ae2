//! Random scenarios for differential testing, from a seed (so a failure can be replayed
//! with `--seed N`).
//!
//! A scenario makes two watched directories `d1` and `d2` (sometimes a subdirectory
//! `d1/s`), one or two instances, then a random sequence of operations on a few names in
//! them, with event reads at random points and at the end. Many operations fail (`ENOENT`,
//! `EEXIST`, ...): errors are compared too. Paths come in the forms Linux's lookup treats
//! specially (see [`Builder::decorate`]), and symlinks may point to directories.

use inotify_abi::consts::*;

use crate::script::{InitFlags, Op, OpenFlags, Scenario, Step, Times, WdRef};

/// A small seeded generator (SplitMix64): fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        (self.next_u64() % n as u64) as usize
    }
    /// True with probability `num / den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }
    /// One element of `xs`.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Event bits a random watch mask draws from.
const EVENTS: [u32; 12] = [
    IN_ACCESS,
    IN_MODIFY,
    IN_ATTRIB,
    IN_CLOSE_WRITE,
    IN_CLOSE_NOWRITE,
    IN_OPEN,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MOVE_SELF,
];

/// A random mask: usually everything, else a random subset, sometimes with flags.
fn random_mask(r: &mut Rng, excl: bool) -> u32 {
    let mut m = if r.chance(1, 2) {
        IN_ALL_EVENTS
    } else {
        let mut m = 0;
        while m == 0 {
            for e in EVENTS {
                if r.chance(1, 3) {
                    m |= e;
                }
            }
        }
        m
    };
    if r.chance(1, 8) && excl {
        m |= IN_EXCL_UNLINK;
    }
    if r.chance(1, 12) {
        m |= IN_ONESHOT;
    }
    if r.chance(1, 12) {
        m |= IN_MASK_ADD;
    }
    if r.chance(1, 16) {
        m |= IN_ONLYDIR;
    }
    if r.chance(1, 16) {
        m |= IN_DONT_FOLLOW;
    }
    if r.chance(1, 20) {
        m |= IN_MASK_CREATE;
    }
    m
}

/// Builds the steps of one random scenario.
struct Builder {
    /// The generator.
    r: Rng,
    /// Steps so far.
    steps: Vec<Step>,
    /// Instance names bound so far.
    instances: Vec<String>,
    /// File handle names bound so far.
    handles: Vec<String>,
    /// Watch names bound so far (with their instance).
    watches: Vec<(String, String)>,
    /// Whether masks may carry `IN_EXCL_UNLINK` (half the scenarios, so the others keep
    /// the event streams of unlinked-but-open files in full).
    excl: bool,
}

impl Builder {
    /// Appends a step.
    fn push(&mut self, op: Op) {
        self.steps.push(Step {
            line: 0,
            op,
            expect: None,
            differs: None,
        });
    }

    /// A random path among the names the scenario plays with, sometimes in another form
    /// ([`Builder::decorate`]).
    fn path(&mut self, subdir: bool) -> String {
        let p = self.plain_path(subdir);
        self.decorate(p)
    }

    /// A random name in one of the directories, as `dir/name`.
    fn plain_path(&mut self, subdir: bool) -> String {
        let dirs: &[&str] = if subdir {
            &["d1", "d2", "d1/s"]
        } else {
            &["d1", "d2"]
        };
        let d = *self.r.pick(dirs);
        let n = *self.r.pick(&["a", "b", "c", "s"]);
        format!("{d}/{n}")
    }

    /// Any path: usually a name inside a directory, sometimes a directory itself.
    fn any_path(&mut self, subdir: bool) -> String {
        if self.r.chance(1, 8) {
            let d = self.r.pick(&["d1", "d2", "d1/s"]).to_string();
            self.decorate(d)
        } else {
            self.path(subdir)
        }
    }

    /// `p` (a directory or `dir/name`) as is three times in four; otherwise in one of the
    /// forms whose lookup rules differ: a trailing slash, `.` or `..` as the last
    /// component, a `./` inside, a detour `dX/../` in front, a name (maybe a symlink to a
    /// directory) as an extra directory level, or padded with `./` to 3.8 KB (a long path
    /// that still resolves; the Linux side adds its directory, about 30 bytes) or to 4.2 KB
    /// (`ENAMETOOLONG`). At most one `..`, so no path leaves the scenario directory (symlink
    /// targets stay inside it too).
    fn decorate(&mut self, p: String) -> String {
        if !self.r.chance(1, 4) {
            return p;
        }
        let (first, rest) = p.split_once('/').unwrap_or((&p, ""));
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!("/{rest}")
        };
        match self.r.below(10) {
            0 | 1 => format!("{p}/"),
            2 => format!("{p}/."),
            3 => format!("{p}/.."),
            4 => format!("{first}/.{rest}"),
            5 => {
                let other = self.r.pick(&["d1", "d2"]);
                format!("{other}/../{p}")
            }
            6 | 7 => {
                let n = self.r.pick(&["a", "b", "c", "s"]);
                match p.rsplit_once('/') {
                    Some((dir, name)) => format!("{dir}/{n}/{name}"),
                    None => format!("{p}/{n}"),
                }
            }
            8 => format!(
                "{first}/{}{}",
                "./".repeat(1900),
                rest.trim_start_matches('/')
            ),
            _ => format!(
                "{first}/{}{}",
                "./".repeat(2100),
                rest.trim_start_matches('/')
            ),
        }
    }

    /// A random instance name.
    fn inst(&mut self) -> String {
        self.r.pick(&self.instances).clone()
    }

    /// Appends one random operation.
    fn random_op(&mut self, subdir: bool) {
        let choice = self.r.below(100);
        let op = match choice {
            0..=9 => Op::Create {
                path: self.path(subdir),
                mode: 0o644,
            },
            10..=14 => Op::Mkdir {
                path: self.path(subdir),
                mode: 0o755,
            },
            15..=21 => Op::Unlink {
                path: self.path(subdir),
            },
            22..=24 => Op::Rmdir {
                path: self.any_path(subdir),
            },
            25..=34 => Op::Rename {
                old: self.any_path(subdir),
                new: self.path(subdir),
            },
            35..=38 => Op::Link {
                old: self.path(subdir),
                new: self.path(subdir),
            },
            // Targets: a name beside the link, a directory (its own, `s`, or `d2` from a
            // link in `d1` or `d2`).
            39..=40 => Op::Symlink {
                target: self.r.pick(&["a", "a", "s", ".", "../d2"]).to_string(),
                path: self.path(subdir),
            },
            41..=47 => {
                let h = self.r.pick(&["h1", "h2"]).to_string();
                let mut flags = OpenFlags::default();
                match self.r.below(4) {
                    0 => flags.read = true,
                    1 => flags.write = true,
                    2 => {
                        flags.read = true;
                        flags.write = true
                    }
                    _ => {
                        flags.write = true;
                        flags.creat = true
                    }
                }
                flags.trunc = self.r.chance(1, 5);
                if !self.handles.contains(&h) {
                    self.handles.push(h.clone());
                }
                Op::Open {
                    handle: h,
                    path: self.any_path(subdir),
                    flags,
                }
            }
            48..=53 if !self.handles.is_empty() => {
                let h = self.r.pick(&self.handles).clone();
                let n = *self.r.pick(&[0usize, 1, 5, 100]);
                Op::Write {
                    handle: h,
                    data: vec![b'x'; n],
                }
            }
            54..=57 if !self.handles.is_empty() => {
                let h = self.r.pick(&self.handles).clone();
                Op::Read {
                    handle: h,
                    len: *self.r.pick(&[1usize, 64]),
                }
            }
            58..=63 if !self.handles.is_empty() => {
                let h = self.r.pick(&self.handles).clone();
                Op::Close { handle: h }
            }
            64..=67 => Op::Chmod {
                path: self.any_path(subdir),
                mode: *self.r.pick(&[0o600u32, 0o644, 0o755]),
            },
            // Path truncation is open + ftruncate + close on Redox (no path call): the
            // random run truncates through open handles; scenarios cover the path form.
            68..=70 if !self.handles.is_empty() => {
                let h = self.r.pick(&self.handles).clone();
                Op::Ftruncate {
                    handle: h,
                    len: *self.r.pick(&[0u64, 3]),
                }
            }
            71..=73 => {
                let times = *self.r.pick(&[Times::Atime, Times::Mtime, Times::Both]);
                Op::Utimes {
                    path: self.any_path(subdir),
                    times,
                }
            }
            74..=76 => {
                let d = self
                    .r
                    .pick(&["d1", "d2", "d1/s", "d1/c", "d2/c"])
                    .to_string();
                Op::Listdir {
                    path: self.decorate(d),
                }
            }
            77..=80 => {
                let inst = self.inst();
                let w = format!("W{}", self.watches.len() + 1);
                self.watches.push((w.clone(), inst.clone()));
                Op::AddWatch {
                    inst,
                    path: self.any_path(subdir),
                    mask: random_mask(&mut self.r, self.excl),
                    bind: Some(w),
                }
            }
            81..=83 if !self.watches.is_empty() => {
                let (w, inst) = self.r.pick(&self.watches).clone();
                Op::RmWatch {
                    inst,
                    wd: WdRef::Named(w),
                }
            }
            84..=85 => Op::Stat {
                path: self.any_path(subdir),
            },
            // A raw wd: the directory watches, a later one, or one never given.
            86 => {
                let inst = self.inst();
                let wd = *self.r.pick(&[1, 2, 3, 4, 7, -1]);
                Op::RmWatch {
                    inst,
                    wd: WdRef::Raw(wd),
                }
            }
            87 => Op::Chown {
                path: self.any_path(subdir),
                uid: *self.r.pick(&[0u32, 1]),
                gid: *self.r.pick(&[0u32, 1]),
            },
            _ => {
                let inst = self.inst();
                let buf = if self.r.chance(1, 5) {
                    *self.r.pick(&[16usize, 17, 32, 48, 100])
                } else {
                    65536
                };
                Op::ReadEvents { inst, buf }
            }
        };
        self.push(op);
    }
}

/// The random scenario for `seed`.
pub fn scenario(seed: u64) -> Scenario {
    scenario_with(seed, false)
}

/// The random scenario for `seed`; with `small_queues`, a quarter of the scenarios first
/// lower `max_queued_events` to 2..=12 so that overflow meets coalescing, `IN_IGNORED` and
/// partial reads. (On Linux that limit is machine-wide while the scenario runs, so it is
/// opt-in: other programs making instances meanwhile would get the small queue too.) The
/// same seed gives a different scenario with and without it.
pub fn scenario_with(seed: u64, small_queues: bool) -> Scenario {
    let mut b = Builder {
        r: Rng::new(seed),
        steps: Vec::new(),
        instances: Vec::new(),
        handles: Vec::new(),
        watches: Vec::new(),
        excl: false,
    };
    b.excl = b.r.chance(1, 2);
    if small_queues && b.r.chance(1, 4) {
        let value = 2 + b.r.below(11) as u32;
        b.push(Op::Set {
            tunable: crate::script::Tunable::MaxQueuedEvents,
            value,
        });
    }
    let subdir = b.r.chance(1, 3);
    b.push(Op::Mkdir {
        path: "d1".into(),
        mode: 0o755,
    });
    b.push(Op::Mkdir {
        path: "d2".into(),
        mode: 0o755,
    });
    if subdir {
        b.push(Op::Mkdir {
            path: "d1/s".into(),
            mode: 0o755,
        });
    }
    // Some names exist from the start so early operations do more than fail.
    for _ in 0..b.r.below(4) {
        let p = b.plain_path(false);
        b.push(Op::Create {
            path: p,
            mode: 0o644,
        });
    }
    let two = b.r.chance(1, 3);
    for inst in ["I", "J"].into_iter().take(if two { 2 } else { 1 }) {
        b.instances.push(inst.to_string());
        b.push(Op::Init {
            inst: inst.into(),
            flags: InitFlags {
                nonblock: true,
                ..Default::default()
            },
        });
        for d in ["d1", "d2"] {
            let mask = if inst == "I" && b.r.chance(3, 4) {
                IN_ALL_EVENTS
            } else {
                random_mask(&mut b.r, b.excl)
            };
            b.push(Op::AddWatch {
                inst: inst.into(),
                path: d.into(),
                mask,
                bind: None,
            });
        }
        if subdir && b.r.chance(1, 2) {
            let mask = random_mask(&mut b.r, b.excl);
            b.push(Op::AddWatch {
                inst: inst.into(),
                path: "d1/s".into(),
                mask,
                bind: None,
            });
        }
    }
    let n = 4 + b.r.below(24);
    for _ in 0..n {
        b.random_op(subdir);
    }
    for inst in b.instances.clone() {
        b.push(Op::ReadEvents { inst, buf: 65536 });
    }
    Scenario {
        name: format!("random-{seed}"),
        from: vec![format!("random, seed {seed}")],
        differs: None,
        steps: b.steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_scenario() {
        assert_eq!(scenario(42), scenario(42));
        assert_ne!(scenario(42).steps, scenario(43).steps);
    }

    #[test]
    fn generated_scenarios_print_and_parse_back() {
        for seed in 0..200 {
            let sc = scenario(seed);
            let text = sc.to_text();
            let back = crate::script::parse(&sc.name, &text)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            let ops = |s: &Scenario| s.steps.iter().map(|st| st.op.clone()).collect::<Vec<_>>();
            assert_eq!(ops(&sc), ops(&back), "seed {seed}");
        }
    }
}
