//! Scripted calls: see issue 3.
