//! The catalog in force, replaced whole when a new version of the register
//! and the journeys is approved: readers take the current one per request
//! and keep it for that request, so no request sees half of each.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::Catalog;

#[derive(Clone)]
pub struct Live(Arc<ArcSwap<Catalog>>);

impl Live {
    pub fn new(catalog: Catalog) -> Live {
        Live(Arc::new(ArcSwap::from_pointee(catalog)))
    }

    /// The catalog in force now.
    pub fn get(&self) -> Arc<Catalog> {
        self.0.load_full()
    }

    /// Puts `catalog` in force for every request that starts from now.
    pub fn set(&self, catalog: Catalog) {
        self.0.store(Arc::new(catalog));
    }
}
