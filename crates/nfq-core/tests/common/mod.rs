//! Helpers shared by the integration tests and the fixture recorder.

#[allow(dead_code)]
pub mod fixture_json;
#[allow(dead_code)]
pub mod netns;
