/*
 * sys/inotify.h for Redox (inotifyd).
 *
 * Event and flag values are Linux's. IN_NONBLOCK and IN_CLOEXEC are Redox's O_NONBLOCK and
 * O_CLOEXEC (relibc's fcntl.h), as on Linux where they equal Linux's O_NONBLOCK and
 * O_CLOEXEC. Records read from an instance are struct inotify_event, each followed by `len`
 * bytes of NUL-padded name.
 */
#ifndef _SYS_INOTIFY_H
#define _SYS_INOTIFY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One event record; `name` holds `len` bytes (0, or a multiple of 16, NUL-padded). */
struct inotify_event {
    int wd;          /* watch descriptor (-1 for IN_Q_OVERFLOW) */
    uint32_t mask;   /* IN_* bits */
    uint32_t cookie; /* pairs IN_MOVED_FROM with IN_MOVED_TO, else 0 */
    uint32_t len;    /* bytes of name that follow */
    char name[];     /* the child's name, when the event is about a child */
};

/* inotify_init1 flags: Redox's O_NONBLOCK and O_CLOEXEC. */
#define IN_NONBLOCK 0x00040000
#define IN_CLOEXEC 0x01000000

/* Events a watch can ask for. */
#define IN_ACCESS 0x00000001        /* file was read (or a directory listed) */
#define IN_MODIFY 0x00000002        /* file was written or truncated */
#define IN_ATTRIB 0x00000004        /* metadata changed */
#define IN_CLOSE_WRITE 0x00000008   /* a file opened for writing was closed */
#define IN_CLOSE_NOWRITE 0x00000010 /* a file not opened for writing was closed */
#define IN_CLOSE (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)
#define IN_OPEN 0x00000020       /* file was opened */
#define IN_MOVED_FROM 0x00000040 /* a child was moved out */
#define IN_MOVED_TO 0x00000080   /* a child was moved in */
#define IN_MOVE (IN_MOVED_FROM | IN_MOVED_TO)
#define IN_CREATE 0x00000100      /* a child was created */
#define IN_DELETE 0x00000200      /* a child was deleted */
#define IN_DELETE_SELF 0x00000400 /* the watched object was deleted */
#define IN_MOVE_SELF 0x00000800   /* the watched object was moved */

/* Events that are always reported. */
#define IN_UNMOUNT 0x00002000    /* the filesystem was unmounted */
#define IN_Q_OVERFLOW 0x00004000 /* the queue overflowed (wd is -1) */
#define IN_IGNORED 0x00008000    /* the watch was removed */

/* inotify_add_watch flags. */
#define IN_ONLYDIR 0x01000000     /* only watch a directory (else ENOTDIR) */
#define IN_DONT_FOLLOW 0x02000000 /* do not follow a final symbolic link */
#define IN_EXCL_UNLINK 0x04000000 /* no events for children after they are unlinked */
#define IN_MASK_CREATE 0x10000000 /* EEXIST if the object is already watched */
#define IN_MASK_ADD 0x20000000    /* add to the mask of an existing watch */
#define IN_ISDIR 0x40000000       /* (in events) the subject is a directory */
#define IN_ONESHOT 0x80000000     /* one event, then the watch is removed */

/*
 * inotifyd extension (not in Linux, which refuses this bit with EINVAL): one watch on a
 * directory covers every directory below it, now and later; events below it carry the
 * path relative to it ("a/b/f", up to 4095 bytes: read with a buffer of at least
 * sizeof(struct inotify_event) + 4096). ENOTDIR for a non-directory, EINVAL with
 * IN_ONESHOT, ENOSPC when the covered directories pass max_user_watches.
 */
#define IN_SUBTREE 0x08000000

#define IN_ALL_EVENTS                                                                    \
    (IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN |   \
     IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

/* A new instance; flags may hold IN_NONBLOCK and IN_CLOEXEC. -1 and errno on error. */
int inotify_init(void);
int inotify_init1(int flags);
/* Watches `pathname` for the events in `mask`: the watch descriptor, or -1 and errno. */
int inotify_add_watch(int fd, const char *pathname, uint32_t mask);
/* Removes watch `wd` (an IN_IGNORED event follows): 0, or -1 and errno. */
int inotify_rm_watch(int fd, int wd);

/*
 * inotifyd extension (not in Linux): what an instance lost since its last report. Fills
 * `report` and starts a new report: 0, or -1 and errno (EBADF, EINVAL: not an instance,
 * EFAULT). IN_Q_OVERFLOW records are unchanged; programs that never call this see Linux's
 * ABI. Times are CLOCK_MONOTONIC nanoseconds, 0 when nothing was lost.
 */
#define INOTIFY_LOSS_WDS 8
struct inotify_loss_report {
    uint64_t dropped;   /* events the queue refused (max_queued_events, byte budgets) */
    uint64_t feed_lost; /* records a watched filesystem's feed lost */
    uint64_t first_ns;  /* time of the first loss */
    uint64_t last_ns;   /* time of the last loss */
    uint32_t wd_count;  /* entries of wds used */
    uint32_t more_wds;  /* further wds that lost events */
    uint64_t reserved;  /* 0 */
    int32_t wds[INOTIFY_LOSS_WDS]; /* the wds that lost events, first loss first */
};
int inotify_loss_report(int fd, struct inotify_loss_report *report);

#ifdef __cplusplus
}
#endif

#endif /* _SYS_INOTIFY_H */
