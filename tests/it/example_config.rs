use touchpoint::config::Config;

use crate::support::repo;

#[test]
fn the_example_config_documents_the_defaults_plus_the_demo_site() {
    let mut example = Config::from_file(&repo().join("touchpoint.example.toml")).unwrap();
    example.validate().unwrap();

    let demo = example.sites.remove("demo").expect("the example ships site `demo`");
    assert_eq!(demo.journeys, vec!["scrap-metal-licensing"]);
    assert_eq!(
        demo.origins.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        vec!["http://localhost/", "http://127.0.0.1/"]
    );
    // Everything else in the example is the default: keep the two in step.
    assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
}
