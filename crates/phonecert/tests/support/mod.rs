//! Helpers shared by the integration tests: an HTTP client for talking to a real server over
//! loopback, and a WebDriver client for driving headless Chromium.
// Each test binary uses only some of the helpers.
#![allow(dead_code)]

pub mod cli;
pub mod http;
pub mod tar;
pub mod webdriver;
