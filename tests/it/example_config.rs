use touchpoint::config::Config;

use crate::support::repo;

#[test]
fn the_example_config_parses_and_matches_the_defaults() {
    let example = Config::from_file(&repo().join("touchpoint.example.toml")).unwrap();
    example.validate().unwrap();
    // The example documents the defaults: keep the two in step.
    assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
}
