//! One version of what `dashboards/` holds: the register and every journey.
//! The files there are the first version imported; any version exports back
//! to files of the same format, which load as the same documents.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::calendar::Calendar;
use crate::journeys::model::{Journey, Register};
use crate::journeys::{Catalog, CatalogErrors, JOURNEYS_DIR, REGISTER_FILE};

/// The register and the journeys, journeys ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Documents {
    pub register: Register,
    pub journeys: Vec<Journey>,
}

impl Documents {
    /// What `catalog` was built from.
    pub fn of(catalog: &Catalog) -> Documents {
        Documents { register: catalog.register.clone(), journeys: catalog.journeys().cloned().collect() }
    }

    /// These documents with the units `files` give wherever a journey names
    /// none: a version approved before every stage had to name the unit that
    /// works its cases (issue 28) is brought up to the rule from the files.
    pub fn with_units_of(mut self, files: &Documents) -> Documents {
        for journey in &mut self.journeys {
            let Some(file) = files.journeys.iter().find(|j| j.id == journey.id) else { continue };
            if journey.cases.unit.is_none() {
                journey.cases.unit = file.cases.unit.clone();
            }
            for stage in journey.stages.iter_mut().filter(|s| s.unit.is_none()) {
                stage.unit = file.stages.iter().find(|s| s.id == stage.id).and_then(|s| s.unit.clone());
            }
        }
        self
    }

    /// The documents validated against each other, as a catalog counting
    /// working days by `calendar`; errors name the file each would be.
    pub fn catalog(&self, calendar: Calendar) -> Result<Catalog, CatalogErrors> {
        let journeys = self.journeys.iter().map(|j| (journey_file(&j.id), j.clone())).collect();
        Catalog::from_parts(PathBuf::from(REGISTER_FILE), self.register.clone(), journeys)
            .map(|c| c.with_calendar(calendar))
    }

    /// `register.toml` and `journeys/<id>.toml`, as `Catalog::load` reads them.
    pub fn files(&self) -> Result<Vec<(PathBuf, String)>, toml::ser::Error> {
        let mut files = vec![(PathBuf::from(REGISTER_FILE), toml::to_string(&self.register)?)];
        for journey in &self.journeys {
            files.push((journey_file(&journey.id), toml::to_string(journey)?));
        }
        Ok(files)
    }

    /// Writes [`Documents::files`] under `dir`.
    pub fn export(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir.join(JOURNEYS_DIR))?;
        for (path, text) in self.files().map_err(std::io::Error::other)? {
            std::fs::write(dir.join(path), text)?;
        }
        Ok(())
    }
}

fn journey_file(id: &str) -> PathBuf {
    Path::new(JOURNEYS_DIR).join(format!("{id}.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Catalog {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap()
    }

    #[test]
    fn the_shipped_files_export_to_files_that_load_as_the_same_documents() {
        let first = Documents::of(&shipped());
        let dir = std::env::temp_dir().join(format!("register-unit-{}", uuid::Uuid::new_v4().simple()));

        first.export(&dir).unwrap();
        let again = Documents::of(&Catalog::load(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(again, first);
        assert_eq!(again.journeys.len(), 1);
        assert_eq!(again.register.touchpoints.len(), 14);
    }

    #[test]
    fn documents_validate_as_the_files_do_naming_the_file() {
        let mut docs = Documents::of(&shipped());
        docs.journeys[0].stages[0].touchpoints.push("fax".into());

        let errors = docs.catalog(Calendar::default()).unwrap_err();

        let e = &errors.0[0];
        assert_eq!(e.file, Path::new("journeys/scrap-metal-licensing.toml"));
        assert_eq!(e.field, "touchpoints");
        assert!(e.message.contains("\"fax\""), "{e}");
    }
}
