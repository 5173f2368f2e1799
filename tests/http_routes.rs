//! HTTP black-box tests.
