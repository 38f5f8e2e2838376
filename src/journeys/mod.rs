//! Journeys, their stages, and the touchpoint register they draw on.

mod api;
mod catalog;
pub mod model;

pub use api::router;
pub use catalog::{Catalog, CatalogError, CatalogErrors, JOURNEYS_DIR, REGISTER_FILE};
