//! Loading and validating the register and the journey files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::model::{Journey, Metric, Register, Touchpoint};
use crate::domain::calendar::{CALENDAR_FILE, Calendar};

/// File name of the register inside the catalog folder.
pub const REGISTER_FILE: &str = "register.toml";
/// Folder of journey files inside the catalog folder.
pub const JOURNEYS_DIR: &str = "journeys";

/// One problem found in a catalog file. Names the file, the entry and the field
/// so that whoever edits the file can go straight to the line.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogError {
    pub file: PathBuf,
    /// The entry inside the file, e.g. `stages[2] "application"`; empty for the whole file.
    pub entry: String,
    /// The offending key, e.g. `touchpoints`; empty when the file could not be read.
    pub field: String,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.entry.is_empty() {
            write!(f, ": {}", self.entry)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the problems of a catalog, reported together so one `touchpoint check` shows them all.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogErrors(pub Vec<CatalogError>);

impl fmt::Display for CatalogErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CatalogErrors {}

/// The register and every journey, validated against each other, and the
/// production calendar their deadlines count working days by.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub register: Register,
    journeys: BTreeMap<String, Journey>,
    touchpoints: HashMap<String, usize>,
    /// From `calendar.toml`; without that file, the fixed public holidays only.
    pub calendar: Calendar,
}

impl Catalog {
    /// Every site's journeys exist; run at start and by `touchpoint check`.
    pub fn check_sites(&self, config: &crate::config::Config) -> Result<(), crate::config::ConfigError> {
        for (key, site) in &config.sites {
            if let Some(unknown) = site.journeys.iter().find(|j| self.journey(j).is_none()) {
                return Err(crate::config::ConfigError::Invalid {
                    key: format!("sites.{key}.journeys"),
                    message: format!("unknown journey {unknown:?}"),
                });
            }
        }
        Ok(())
    }

    /// Reads `register.toml`, `journeys/*.toml` and `calendar.toml` (optional) from `dir`.
    pub fn load(dir: &Path) -> Result<Catalog, CatalogErrors> {
        let mut errors = Vec::new();
        let register_path = dir.join(REGISTER_FILE);
        let register: Option<Register> = read_toml(&register_path, &mut errors);

        let mut journeys = Vec::new();
        let journeys_dir = dir.join(JOURNEYS_DIR);
        match journey_files(&journeys_dir) {
            Ok(files) => {
                for path in files {
                    if let Some(journey) = read_toml::<Journey>(&path, &mut errors) {
                        journeys.push((path, journey));
                    }
                }
            }
            Err(e) => errors.push(file_error(&journeys_dir, e.to_string())),
        }

        let calendar = match Calendar::load(dir) {
            Ok(calendar) => calendar,
            Err(_) if !dir.join(CALENDAR_FILE).exists() => Calendar::default(),
            Err(e) => {
                errors.push(CatalogError {
                    file: e.file.into(),
                    entry: String::new(),
                    field: e.key,
                    message: e.message,
                });
                Calendar::default()
            }
        };

        let Some(register) = register else {
            return Err(CatalogErrors(errors));
        };
        match Catalog::from_parts(register_path, register, journeys) {
            Ok(catalog) if errors.is_empty() => Ok(Catalog { calendar, ..catalog }),
            Ok(_) => Err(CatalogErrors(errors)),
            Err(CatalogErrors(more)) => {
                errors.extend(more);
                Err(CatalogErrors(errors))
            }
        }
    }

    /// Validates already parsed files; `register_path` and each journey's path are used in errors.
    pub fn from_parts(
        register_path: PathBuf,
        register: Register,
        journeys: Vec<(PathBuf, Journey)>,
    ) -> Result<Catalog, CatalogErrors> {
        let mut errors = Vec::new();
        validate_register(&register_path, &register, &mut errors);
        let touchpoints: HashMap<String, usize> =
            register.touchpoints.iter().enumerate().map(|(i, t)| (t.id.clone(), i)).collect();
        // Each touchpoint's day of exclusion, empty while it is in force.
        let in_force: HashMap<&str, &str> = register
            .touchpoints
            .iter()
            .map(|t| (t.id.as_str(), t.excluded_since.as_deref().unwrap_or_default()))
            .collect();

        let mut by_id = BTreeMap::new();
        for (path, journey) in journeys {
            validate_journey(&path, &journey, &in_force, &mut errors);
            if by_id.contains_key(&journey.id) {
                errors.push(CatalogError {
                    file: path.clone(),
                    entry: String::new(),
                    field: "id".into(),
                    message: format!("journey id {:?} is used by another file", journey.id),
                });
            }
            by_id.insert(journey.id.clone(), journey);
        }
        if errors.is_empty() {
            Ok(Catalog { register, journeys: by_id, touchpoints, calendar: Calendar::default() })
        } else {
            Err(CatalogErrors(errors))
        }
    }

    /// The same catalog counting working days by `calendar`.
    pub fn with_calendar(self, calendar: Calendar) -> Catalog {
        Catalog { calendar, ..self }
    }

    /// Journeys ordered by id.
    pub fn journeys(&self) -> impl Iterator<Item = &Journey> {
        self.journeys.values()
    }

    pub fn journey(&self, id: &str) -> Option<&Journey> {
        self.journeys.get(id)
    }

    /// The journey an API path names: a 404 naming its `id` otherwise.
    pub fn journey_or_404(&self, id: &str) -> Result<&Journey, crate::error::ApiError> {
        let missing = || crate::error::ApiError::NotFound { what: "journey", field: "id", id: id.to_string() };
        self.journeys.get(id).ok_or_else(missing)
    }

    pub fn touchpoint(&self, id: &str) -> Option<&Touchpoint> {
        self.touchpoints.get(id).map(|&i| &self.register.touchpoints[i])
    }
}

fn journey_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, errors: &mut Vec<CatalogError>) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(file_error(path, e.to_string()));
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(value) => Some(value),
        Err(e) => {
            // toml's message already quotes the line and names the key.
            errors.push(file_error(path, e.to_string().trim_end().to_string()));
            None
        }
    }
}

fn file_error(path: &Path, message: String) -> CatalogError {
    CatalogError { file: path.to_path_buf(), entry: String::new(), field: String::new(), message }
}

/// Why `id` is no valid id of a journey, stage, touchpoint or unit; `None`
/// when it is. Ids end up in URLs, ClickHouse rows and CSV headers: keep them plain.
pub fn id_problem(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    (!ok).then(|| format!("{id:?} is not a valid id: use 1–64 characters of a-z, 0-9, '_' and '-'"))
}

struct Reporter<'a> {
    file: &'a Path,
    errors: &'a mut Vec<CatalogError>,
}

impl Reporter<'_> {
    fn push(&mut self, entry: impl Into<String>, field: &str, message: impl Into<String>) {
        self.errors.push(CatalogError {
            file: self.file.to_path_buf(),
            entry: entry.into(),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

fn validate_register(path: &Path, register: &Register, errors: &mut Vec<CatalogError>) {
    let mut r = Reporter { file: path, errors };
    let mut process_ids = HashSet::new();
    for (i, p) in register.processes.iter().enumerate() {
        let entry = format!("processes[{i}] {:?}", p.id);
        if let Some(m) = id_problem(&p.id) {
            r.push(&entry, "id", m);
        }
        if !process_ids.insert(p.id.as_str()) {
            r.push(&entry, "id", "duplicate process id");
        }
    }
    if register.touchpoints.is_empty() {
        r.push("", "touchpoints", "the register lists no touchpoints");
    }
    let mut ids = HashSet::new();
    for (i, t) in register.touchpoints.iter().enumerate() {
        let entry = format!("touchpoints[{i}] {:?}", t.id);
        if let Some(m) = id_problem(&t.id) {
            r.push(&entry, "id", m);
        }
        if !ids.insert(t.id.as_str()) {
            r.push(&entry, "id", "duplicate touchpoint id");
        }
        if t.name.ru.trim().is_empty() {
            r.push(&entry, "name.ru", "the Russian name is empty");
        }
        if t.needs.is_empty() {
            r.push(&entry, "needs", "list at least one client need (2.6 of the order)");
        }
        if t.excluded_since.as_deref().is_some_and(|d| crate::domain::calendar::parse_date(d).is_none()) {
            r.push(&entry, "excluded_since", "a day as YYYY-MM-DD");
        }
        for process in &t.processes {
            if !process_ids.contains(process.as_str()) {
                r.push(&entry, "processes", format!("unknown process {process:?}"));
            }
        }
    }
}

/// What is wrong with a stage's question set: the built-in one takes no
/// items; a custom one 1 to 5, each id once.
fn question_problems(questions: &crate::journeys::model::Questions) -> Vec<String> {
    use crate::domain::{SetKind, questions::MAX_QUESTIONS};
    let mut problems = Vec::new();
    match questions.set {
        SetKind::Vk5 if !questions.items.is_empty() => {
            problems.push("the vk5 set asks its five criteria: leave out `items`".to_string());
        }
        SetKind::Custom if questions.items.is_empty() || questions.items.len() > MAX_QUESTIONS => {
            problems.push(format!("a custom set has 1 to {MAX_QUESTIONS} items"));
        }
        _ => {}
    }
    let mut ids = HashSet::new();
    for item in &questions.items {
        if let Some(m) = id_problem(&item.id) {
            problems.push(format!("question {:?}: {m}", item.id));
        }
        if !ids.insert(item.id.as_str()) {
            problems.push(format!("question {:?} is listed twice", item.id));
        }
        if item.text.ru.trim().is_empty() {
            problems.push(format!("question {:?}: the Russian text is empty", item.id));
        }
    }
    problems
}

/// What is wrong with the unit that works `stage`'s cases, if anything.
fn unit_problem(journey: &Journey, stage: &crate::journeys::model::Stage) -> Option<String> {
    match (&stage.unit, &journey.cases.unit) {
        (Some(unit), _) => id_problem(unit),
        // Every stage can open cases (a low rating does under any rules),
        // and a case nobody's unit holds is seen by no handler while the
        // client is promised an answer by a date.
        (None, None) => Some(
            "the cases this stage opens would have no unit to work them: \
             name one with `unit` on the stage, or for every stage under `[cases]`"
                .into(),
        ),
        (None, Some(_)) => None,
    }
}

fn validate_journey(path: &Path, journey: &Journey, touchpoints: &HashMap<&str, &str>, errors: &mut Vec<CatalogError>) {
    let mut r = Reporter { file: path, errors };
    if let Some(m) = id_problem(&journey.id) {
        r.push("", "id", m);
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if stem != journey.id {
        r.push("", "id", format!("id {:?} differs from the file name {stem:?}", journey.id));
    }
    if journey.name.ru.trim().is_empty() {
        r.push("", "name.ru", "the Russian name is empty");
    }
    if journey.stages.is_empty() {
        r.push("", "stages", "a journey needs at least one stage");
    }
    let mut stage_ids = HashSet::new();
    for (i, stage) in journey.stages.iter().enumerate() {
        let entry = format!("stages[{i}] {:?}", stage.id);
        if let Some(m) = id_problem(&stage.id) {
            r.push(&entry, "id", m);
        }
        if !stage_ids.insert(stage.id.as_str()) {
            r.push(&entry, "id", "duplicate stage id");
        }
        if stage.name.ru.trim().is_empty() {
            r.push(&entry, "name.ru", "the Russian name is empty");
        }
        if stage.touchpoints.is_empty() {
            r.push(&entry, "touchpoints", "a stage needs at least one touchpoint");
        }
        validate_stage(&mut r, &entry, journey, stage, touchpoints);
    }
    let offered: Vec<&str> = journey.stages.iter().flat_map(|s| s.tags.iter().map(|t| t.id.as_str())).collect();
    for (key, message) in journey.cases.problems(&offered) {
        r.push("cases", key, message);
    }
    if let Some(m) = journey.cases.unit.as_deref().and_then(id_problem) {
        r.push("cases", "unit", m);
    }
}

/// What a stage names beyond its id and name: touchpoints in the register,
/// tags, metrics, its unit and its questions.
fn validate_stage(
    r: &mut Reporter,
    entry: &str,
    journey: &Journey,
    stage: &super::model::Stage,
    touchpoints: &HashMap<&str, &str>,
) {
    for t in &stage.touchpoints {
        match touchpoints.get(t.as_str()) {
            None => r.push(entry, "touchpoints", format!("unknown touchpoint {t:?}: it is not in the register")),
            Some(since) if !since.is_empty() => {
                r.push(entry, "touchpoints", format!("touchpoint {t:?} is excluded from the register since {since}"));
            }
            Some(_) => {}
        }
    }
    let mut tag_ids = HashSet::new();
    for tag in &stage.tags {
        if let Some(m) = id_problem(&tag.id) {
            r.push(entry, "tags", m);
        }
        if !tag_ids.insert(tag.id.as_str()) {
            r.push(entry, "tags", format!("tag {:?} is listed twice", tag.id));
        }
    }
    let mut kinds = HashSet::new();
    for metric in &stage.metrics {
        if !kinds.insert(metric.kind()) {
            r.push(entry, "metrics", format!("metric {:?} is listed twice", metric.kind()));
        }
        match metric {
            Metric::TimeSpent { target: Some(d) } if d.is_zero() => {
                r.push(entry, "metrics", "time_spent target must be above zero");
            }
            Metric::Score { target: Some(s) } if !(0.0..=100.0).contains(s) => {
                r.push(entry, "metrics", "score target must be within 0–100");
            }
            _ => {}
        }
    }
    if let Some(m) = unit_problem(journey, stage) {
        r.push(entry, "unit", m);
    }
    if let Some(questions) = &stage.questions {
        for m in question_problems(questions) {
            r.push(entry, "questions", m);
        }
    }
}
