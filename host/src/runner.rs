//! Running a scheme on its own thread: the host version of a scheme daemon's main loop
//! (`next_request` -> `kind()` -> `handle_sync` -> `write_response`).

use std::thread::{self, JoinHandle};

use redox_scheme::scheme::{SchemeState, SchemeSync};
use redox_scheme::{Request, RequestKind, Response};

use super::kernel::HostSocket;

/// A scheme served on its own thread. The thread ends when the scheme's request stream ends
/// ([`Kernel::shutdown`](super::Kernel::shutdown), [`Kernel::shutdown_scheme`](super::Kernel::shutdown_scheme),
/// or dropping every `Kernel` handle). Dropping this value detaches the thread.
pub struct SchemeThread<S> {
    /// The thread; returns the scheme state.
    handle: Option<JoinHandle<S>>,
}

impl<S> SchemeThread<S> {
    /// Waits for the thread to end (shut the scheme down first) and returns the scheme.
    /// Re-raises a panic of the scheme thread.
    pub fn join(mut self) -> S {
        let handle = self.handle.take().expect("joined once");
        match handle.join() {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Whether the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }
}

/// Handles one request the way a synchronous scheme daemon does: calls through
/// `handle_sync`, `OnClose` through `on_close`, `SendFd` through `on_sendfd` (its result is
/// the response). Cancellations and other kinds are ignored (a synchronous scheme keeps no
/// pending request). Errors writing the response are logged.
pub fn dispatch_sync<S: SchemeSync>(
    scheme: &mut S,
    state: &mut SchemeState,
    socket: &HostSocket,
    req: Request,
) {
    let resp = match req.kind() {
        RequestKind::Call(call) => call.handle_sync(scheme, state),
        RequestKind::OnClose { id } => {
            scheme.on_close(id);
            return;
        }
        RequestKind::SendFd(sendfd) => {
            let res = scheme.on_sendfd(&sendfd);
            Response::new(res, sendfd)
        }
        _ => return,
    };
    if let Err(e) = socket.write_response(resp) {
        log::warn!("scheme {}: write_response: {e}", socket.name());
    }
}

/// Serves `scheme` on a new thread with [`dispatch_sync`] until the request stream ends;
/// the socket is dropped when the thread ends.
pub fn spawn_scheme_thread<S>(socket: HostSocket, scheme: S) -> SchemeThread<S>
where
    S: SchemeSync + Send + 'static,
{
    spawn_request_loop(socket, scheme, |scheme, socket, req| {
        let mut state = SchemeState::new();
        dispatch_sync(scheme, &mut state, socket, req);
    })
}

/// Serves requests on a new thread with a custom handler (for schemes that defer requests,
/// need the socket for `obtain_fd`, or post readiness) until the request stream ends.
pub fn spawn_request_loop<S, F>(socket: HostSocket, mut state: S, mut handle: F) -> SchemeThread<S>
where
    S: Send + 'static,
    F: FnMut(&mut S, &HostSocket, Request) + Send + 'static,
{
    let name = format!("scheme-{}", socket.name());
    let handle = thread::Builder::new()
        .name(name)
        .spawn(move || {
            while let Ok(Some(req)) = socket.next_request(true) {
                handle(&mut state, &socket, req);
            }
            drop(socket);
            state
        })
        .expect("spawn scheme thread");
    SchemeThread {
        handle: Some(handle),
    }
}
