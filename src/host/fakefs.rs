//! A scripted filesystem scheme for scheme-level tests (placeholder while it is written).
