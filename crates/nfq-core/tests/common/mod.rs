//! Helpers shared by the integration tests and the fixture recorder.
pub mod fixture_json;
