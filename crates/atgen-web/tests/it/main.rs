//! HTTP-level tests of every route, against a real server on 127.0.0.1:0.

mod annotate;
mod browser;
mod runs;
mod security;
mod support;
mod webdriver;
