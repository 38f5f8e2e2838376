//! Journeys, their stages, and the touchpoint register they draw on.

mod api;
pub mod case_rules;
mod catalog;
mod live;
pub mod model;

pub use api::router;
pub use catalog::{Catalog, CatalogError, CatalogErrors, JOURNEYS_DIR, REGISTER_FILE, id_problem};
pub use live::Live;
