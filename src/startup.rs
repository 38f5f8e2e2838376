//! Builds the service from its config and runs it until asked to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::ApiError;
use anyhow::Context as _;
use axum::Router;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse as _;
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::accounts::{self, auth::Auth};
use crate::capture::{self, Capture};
use crate::config::Config;
use crate::dashboards::{self, Dashboards};
use crate::deadline::DeadlineLayer;
use crate::domain::Role;
use crate::domain::time::unix;
use crate::ingest::{DedupeOptions, Deduped, EventSink, Memory};
use crate::journeys::Catalog;
use crate::metrics::Metrics;
use crate::storage::embedded::{self, EmbeddedClickHouse};
use crate::storage::migrations::{self, Migration};
use crate::storage::spool::SpoolOptions;
use crate::storage::writer::Writer;
use crate::storage::{self, Endpoint, Storage};
use crate::{error, health, journeys, openapi, widget};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every router group needs, built once at start.
#[derive(Clone)]
pub struct AppState {
    pub catalog: crate::journeys::Live,
    pub storage: Storage,
    pub migrations: Arc<[Migration]>,
    pub capture: Capture,
    pub dashboards: Dashboards,
    /// Who a request comes from, for every route that needs a role.
    pub auth: Arc<Auth>,
    /// The case queue's API and pages.
    pub cases: crate::cases::Desk,
    /// The ministry's time zone (`cases.utc_offset`), for the times pages show.
    pub case_offset: time::UtcOffset,
    /// The client's follow pages.
    pub follow: crate::follow::Follow,
    /// The admin's page.
    pub admin: crate::admin::Admin,
    /// Clients' cases across channels: stage durations, timelines, history pages.
    pub dossiers: crate::dossiers::Dossiers,
    /// Drafts and approvals of changes to the register and the journeys.
    pub register: crate::register::desk::Desk,
    /// The lab's recommendations and their measured effect.
    pub lab: crate::recommendations::Lab,
    /// How often the per-case stage times are recomputed (`case_refs.refresh_interval`).
    pub stage_times_every: Duration,
    /// How often to look for a register version another instance approved
    /// (`register.refresh_interval`).
    pub register_every: Duration,
    pub metrics: Arc<Metrics>,
    /// `/readyz` fails when the spool has not shipped for this long.
    pub stall_after: std::time::Duration,
    /// `/readyz` fails when a replica of this server is this far behind.
    pub max_replica_delay: Duration,
    /// Longest a request may take (`request_timeout`).
    pub request_timeout: Duration,
}

/// The service as it is served: every route of [`router`] behind the stack
/// each request passes (request id, trace when logged, catch-panic,
/// time-out). The stack wraps the router once, as a service of its own:
/// `Router::layer` would box it around every route, and axum clones that box
/// on every request (BENCHMARKS.md, "Where the time goes").
pub fn app(
    state: AppState,
) -> impl tower::Service<axum::extract::Request, Response = Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let request_timeout = state.request_timeout;
    tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        // Both arms answer `Response<Body>`: the body type is the same
        // whether or not the trace layer wraps it.
        .layer(tower::util::option_layer(traced().then(|| {
            let trace = TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
                })
                // A 500's cause is logged where it happens; a 503 under load is
                // backpressure, not an error worth a line per request.
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG));
            tower::ServiceBuilder::new().map_response(axum_body).layer(trace)
        })))
        .map_response(axum_body)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .map_response(crate::web::every_answer)
        // A bug in one handler is a 500 for that request, not a dropped connection.
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
        }))
        .map_response(axum_body)
        // A stuck ClickHouse query or a body that never arrives ends here.
        .layer(DeadlineLayer(request_timeout))
        // A browser that asked for a page gets its error as a page.
        .layer(crate::web::HtmlErrorsLayer)
        .service(router(state))
}

/// All routes of the service, each group with its own state, merged here.
/// Every API route is declared through `OpenApiRouter`, so the OpenAPI
/// document served at `/api/v1/openapi.json` lists exactly the API that
/// exists; the analysts' HTML pages are outside it.
pub fn router(state: AppState) -> Router {
    let pages = dashboards::pages_router(state.dashboards.clone());
    let report = crate::report::router(state.dashboards.clone());
    let official = crate::official::pages_router(state.dashboards.clone());
    let phone = crate::capture::phone::router(
        state.capture.clone(),
        state.catalog.clone(),
        state.auth.admits(&[Role::Handler]),
    );
    let case_pages = crate::cases::pages::router(
        state.cases.clone(),
        state.catalog.clone(),
        state.case_offset,
        state.auth.admits(&[Role::Handler]),
    );
    let scrape = Router::new()
        .route("/metrics", axum::routing::get(health::metrics))
        .with_state(state.metrics.clone())
        .layer(axum::middleware::from_fn_with_state(state.dashboards.readers(), accounts::auth::require));
    let follow = crate::follow::router(state.follow.clone(), state.capture.public_guard(state.metrics.clone()));
    let admin = crate::admin::router(state.admin.clone(), state.auth.admits(&[Role::Admin]));
    let dossiers = crate::dossiers::pages_router(
        state.dossiers.clone(),
        state.capture.public_guard(state.metrics.clone()),
        state.auth.admits(&[Role::Analyst]),
    );
    let sites = state.capture.sites();
    let register = crate::register::router(crate::register::Published {
        catalog: state.catalog.clone(),
        store: state.register.store.clone(),
        offset: state.case_offset,
        csp: crate::web::embeddable_csp(sites.values().flat_map(|s| &s.origins)).into(),
    });
    let front = crate::front::router(state.catalog.clone());
    let register_pages = crate::register::pages_router(
        state.register.clone(),
        state.auth.admits(&[Role::Editor, Role::Approver]),
        state.auth.admits(&[Role::Editor]),
        state.auth.admits(&[Role::Approver]),
    );
    let recommendations = crate::recommendations::pages_router(
        state.lab.clone(),
        state.auth.admits(&[Role::Analyst]),
        state.auth.admits(&[Role::Analyst, Role::Handler]),
    );
    let (router, spec) = routes(state).split_for_parts();
    let spec = Arc::new(spec);
    router
        .route("/api/v1/openapi.json", axum::routing::get(move || async move { axum::Json(spec.as_ref().clone()) }))
        .merge(pages)
        .merge(case_pages)
        .merge(follow)
        .merge(admin)
        .merge(dossiers)
        .merge(register)
        .merge(register_pages)
        .merge(recommendations)
        .merge(report)
        .merge(official)
        .merge(phone)
        .merge(front)
        .merge(scrape)
        .fallback(error::no_route)
}

/// A response with axum's body type, which every layer above expects.
fn axum_body<B>(response: Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(axum::body::Body::new)
}

/// Whether the log filter records the request span or the trace layer's own
/// events. When it records neither (`warn`, as under load tests), the layer
/// would only cost time: wrapping every future and body, reading the clock.
fn traced() -> bool {
    tracing::span_enabled!(Level::INFO) || tracing::enabled!(target: "tower_http::trace", Level::DEBUG)
}

/// A UUID v4 per request from the thread's RNG: tower-http's own maker asks
/// the kernel for randomness on every request (a syscall each).
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        axum::http::HeaderValue::from_str(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()))
            .ok()
            .map(RequestId::new)
    }
}

/// The routes and their OpenAPI description, before they are split apart.
pub fn routes(state: AppState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::router(
            state.storage.clone(),
            state.migrations.clone(),
            state.metrics.clone(),
            state.stall_after,
            state.max_replica_delay,
        ))
        .merge(journeys::router(state.catalog.clone()))
        .merge(capture::public_router(state.capture.clone(), state.metrics.clone()))
        .merge(capture::staff_router(state.capture.clone(), state.metrics.clone()))
        .merge(widget::router(state.catalog.clone(), state.capture.sites()))
        .merge(dashboards::api_router(state.dashboards.clone()))
        .merge(crate::official::api_router(state.dashboards.clone()))
        .merge(crate::cases::api::router(state.cases.clone(), state.auth.admits(&[Role::Handler])))
        .merge(crate::cases::report::router(
            state.cases.clone(),
            state.catalog.clone(),
            state.auth.admits(&[Role::Analyst]),
        ))
        .merge(crate::dossiers::api_router(state.dossiers.clone(), state.auth.admits(&[Role::Analyst])))
        .merge(crate::register::api::router(
            state.register.clone(),
            state.auth.admits(&[Role::Editor]),
            state.auth.admits(&[Role::Approver]),
            state.auth.admits(&[Role::Editor, Role::Approver]),
        ))
        .merge(crate::recommendations::api::router(
            state.lab.clone(),
            state.auth.admits(&[Role::Analyst]),
            state.auth.admits(&[Role::Analyst, Role::Handler]),
        ))
}

/// The dedupe memory as ClickHouse knows it: every event id stored within
/// the window. The spool's unshipped events are added by [`services`].
pub async fn recall(config: &Config, storage: &Storage) -> anyhow::Result<Arc<Memory>> {
    let options = dedupe_options(config);
    let memory = Arc::new(Memory::new(options));
    let now = SystemTime::now();
    let since = |window: Duration| unix(now.checked_sub(window).unwrap_or(std::time::UNIX_EPOCH));
    let started = std::time::Instant::now();
    let read = storage::recall::recall(storage, since(options.window), since(options.update_window), &|k, v| {
        memory.insert(k, v)
    })
    .await
    .context("cannot read the event ids stored within the dedupe window")?;
    tracing::info!(rows = read, ids = memory.stats().ids, took = ?started.elapsed(), "dedupe memory recalled from ClickHouse");
    Ok(memory)
}

/// How long and how many ids the dedupe layer remembers, from the config.
pub fn dedupe_options(config: &Config) -> DedupeOptions {
    DedupeOptions {
        window: config.capture.dedupe_window,
        // A second click on a rating link must still replace the first.
        update_window: config.capture.dedupe_window.max(config.email.link_ttl),
        max_ids: config.capture.dedupe_ids,
    }
}

/// Where and how the spool writes, from the config (`spool.*` and the
/// segment limits under `capture.*`).
pub fn spool_options(config: &Config) -> SpoolOptions {
    SpoolOptions {
        dir: config.spool.dir.clone(),
        max_bytes: config.spool.max_bytes,
        sync_interval: config.spool.sync_interval,
        segment_rows: config.capture.flush_rows,
        segment_period: config.capture.flush_period,
        capacity: config.capture.queue_capacity,
        claims_kept: dedupe_options(config).update_window + Duration::from_secs(24 * 3600),
    }
}

/// The path of every accepted event: the spool (whose unshipped events join
/// `memory`) and the dedupe layer on it, watched by `metrics`.
fn event_path(
    config: &Config,
    storage: &Storage,
    memory: Arc<Memory>,
    metrics: &Arc<Metrics>,
    clock: crate::domain::time::Clock,
) -> anyhow::Result<(Arc<dyn EventSink>, Writer)> {
    let options = spool_options(config);
    let remember = |event: &crate::storage::rows::Event| memory.remember(event);
    let (queue, writer) = Writer::start(storage, options, config.spool.drain_timeout, metrics.clone(), &remember)
        .with_context(|| format!("cannot open the spool in {} (config key `spool.dir`)", config.spool.dir.display()))?;
    Memory::spawn_janitor(&memory);
    let watched = memory.clone();
    metrics.watch_dedupe(move || {
        let stats = watched.stats();
        crate::metrics::DedupeReading { ids: stats.ids as u64, evicted: stats.evicted }
    });
    Ok((Arc::new(Deduped::new(memory, Arc::new(queue), clock)), writer))
}

/// Clients' histories: their case keys and signed history links.
fn dossiers(
    config: &Config,
    storage: &Storage,
    catalog: &crate::journeys::Live,
    base_url: &str,
    clock: crate::domain::time::Clock,
) -> crate::dossiers::Dossiers {
    let history = Arc::new(crate::dossiers::HistoryLinks::new(
        config.email.secret.as_ref(),
        config.case_refs.history_link_ttl,
        base_url,
    ));
    crate::dossiers::Dossiers {
        storage: storage.clone(),
        catalog: catalog.clone(),
        keys: crate::domain::CaseKeys::new(config.case_refs.secret.as_ref(), config.email.secret.as_ref()),
        history,
        clock,
        offset: config.cases.offset(),
    }
}

/// Every service of the app on a migrated database, wired as production runs
/// them: the spool (whose unshipped events join `memory`), the dedupe layer on
/// it, capture, dashboards, cases and metrics. Tests build the router through this.
pub fn services(
    config: &Config,
    catalog: crate::journeys::Live,
    storage: &Storage,
    migrations: Arc<[Migration]>,
    memory: Arc<Memory>,
    base_url: String,
) -> anyhow::Result<(AppState, Writer)> {
    let metrics = Metrics::new();
    let clock = crate::domain::time::system_clock();
    let (sink, writer) = event_path(config, storage, memory, &metrics, clock.clone())?;
    let links = Arc::new(crate::follow::FollowLinks::new(
        config.email.secret.as_ref(),
        config.cases.follow_link_ttl,
        &base_url,
    ));
    let dossiers = dossiers(config, storage, &catalog, &base_url, clock.clone());
    let links_of =
        capture::Links { follow: links.clone(), history: dossiers.history.clone(), keys: dossiers.keys.clone() };
    let capture = Capture::new(config, catalog.clone(), sink, base_url, clock.clone(), links_of);
    let follow = crate::follow::Follow {
        links,
        book: crate::cases::CaseBook::new(storage.clone()),
        store: crate::follow::FollowStore::new(storage.clone()),
        clock: clock.clone(),
        offset: config.cases.offset(),
    };
    let cases = crate::cases::Desk::new(crate::cases::CaseBook::new(storage.clone()), clock.clone());
    let auth = Auth::new(
        storage.clone(),
        &config.dashboards,
        crate::server::Proxies::new(&config.limits.trusted_proxies),
        clock.clone(),
    );

    let lab = crate::recommendations::Lab::new(
        storage.clone(),
        catalog.clone(),
        config.dashboards.min_answers,
        clock.clone(),
        config.cases.offset(),
    );
    let dashboards = Dashboards::new(
        catalog.clone(),
        storage.clone(),
        auth.clone(),
        config.dashboards.min_answers,
        lab.clone(),
        clock.clone(),
    );
    let stall_after = config.capture.stall_after;
    let admin = crate::admin::Admin {
        storage: storage.clone(),
        catalog: catalog.clone(),
        addresses: Arc::new(config.notify.units.clone()),
        calls_unit: config.cases.calls_unit.clone(),
        register: crate::register::store::RegisterStore::new(storage.clone()),
        offset: config.cases.offset(),
        clock: clock.clone(),
    };
    let register = crate::register::desk::Desk::new(
        crate::register::store::RegisterStore::new(storage.clone()),
        catalog.clone(),
        config.cases.offset(),
        clock.clone(),
    );
    let state = AppState {
        register,
        lab,
        catalog,
        storage: storage.clone(),
        migrations,
        capture,
        dashboards,
        auth,
        cases,
        case_offset: config.cases.offset(),
        follow,
        admin,
        dossiers,
        stage_times_every: config.case_refs.refresh_interval,
        register_every: config.register.refresh_interval,
        metrics,
        stall_after,
        max_replica_delay: config.clickhouse.max_replica_delay,
        request_timeout: config.request_timeout,
    };
    Ok((state, writer))
}

/// The config keys whose value is kept when unset: the links' key and the
/// session cookies' key (`case_refs.secret` is derived from the first).
const KEPT: [&str; 2] = ["email.secret", "dashboards.session_secret"];

/// `config` with every [`KEPT`] key it leaves unset filled from the
/// database, made there first if need be. Values are never logged.
pub async fn completed(config: &Config, storage: &Storage) -> Result<Config, storage::StorageError> {
    let mut config = config.clone();
    for name in KEPT {
        let slot = match name {
            "email.secret" => &mut config.email.secret,
            _ => &mut config.dashboards.session_secret,
        };
        if slot.is_none() {
            *slot = Some(secrecy::SecretString::from(storage::secrets::kept(storage, name).await?));
            tracing::info!(key = name, "not set in the config: using the key kept in the database");
        }
    }
    Ok(config)
}

/// ClickHouse as the config names it, or a local server started for the service.
pub struct Database {
    pub storage: Storage,
    embedded: Option<EmbeddedClickHouse>,
}

impl Database {
    /// Connects (starting the local server if no URL is set), waits for the
    /// server, and creates the database if missing.
    pub async fn open(config: &Config) -> anyhow::Result<Database> {
        let (endpoint, embedded): (Endpoint, _) = match config.endpoint() {
            Some(endpoint) => (endpoint, None),
            None if let Some(endpoint) = embedded::running(&config.clickhouse.embedded).await => {
                tracing::info!("using the local ClickHouse another touchpoint process started");
                (endpoint, None)
            }
            None => {
                let server =
                    EmbeddedClickHouse::start(&config.clickhouse.embedded, &config.clickhouse.database).await?;
                (server.endpoint(), Some(server))
            }
        };
        let storage =
            Storage::new(&endpoint, &config.clickhouse.database).on_cluster(config.clickhouse.cluster.clone());
        let db = Database { storage, embedded };
        tracing::info!(location = %db.storage.location(), database = %db.storage.database(), "using ClickHouse");
        if let Err(e) = db.storage.wait_until_up(config.clickhouse.connect_timeout).await {
            db.close().await;
            return Err(e).context("ClickHouse does not answer");
        }
        Ok(db)
    }

    /// Stops the local server, if the service started one.
    pub async fn close(self) {
        let Database { storage, embedded } = self;
        // Dropping the last client closes its idle keep-alive connections, which
        // ClickHouse would otherwise wait for before shutting down.
        drop(storage);
        if let Some(server) = embedded
            && let Err(e) = server.stop().await
        {
            tracing::error!(error = %e, "stopping the local ClickHouse failed");
        }
    }
}

/// A bound, migrated, ready-to-run service.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: Writer,
    database: Database,
    catalog: crate::journeys::Live,
    /// `spool.drain_timeout`: the whole budget of a shutdown.
    drain_timeout: Duration,
    /// Header time-out and connections per address.
    limits: crate::server::Limits,
    /// The notification loops, started with the server.
    notifier: crate::notify::Notifier,
    /// `background_jobs`: whether [`Application::run_until_stopped`] runs the rounds.
    background_jobs: bool,
}

impl Application {
    /// Loads the journeys, opens ClickHouse, applies migrations and binds the
    /// listener. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(config: &Config) -> anyhow::Result<Application> {
        let catalog = Catalog::load(&config.dashboards_dir).with_context(|| {
            format!("the journey and register files in {} are invalid", config.dashboards_dir.display())
        })?;
        catalog.check_sites(config)?;
        let database = Database::open(config).await?;
        let catalog = crate::journeys::Live::new(catalog);
        match Application::prepare(config, catalog.clone(), &database.storage).await {
            Ok((listener, state, writer, notifier)) => Ok(Application {
                listener,
                state,
                writer,
                database,
                catalog,
                drain_timeout: config.spool.drain_timeout,
                limits: crate::server::Limits {
                    header_timeout: config.header_timeout,
                    max_connections_per_address: config.max_connections_per_address,
                    proxies: crate::server::Proxies::new(&config.limits.trusted_proxies),
                },
                notifier,
                background_jobs: config.background_jobs,
            }),
            Err(e) => {
                database.close().await;
                Err(e)
            }
        }
    }

    async fn prepare(
        config: &Config,
        catalog: crate::journeys::Live,
        storage: &Storage,
    ) -> anyhow::Result<(TcpListener, AppState, Writer, crate::notify::Notifier)> {
        let migrations: Arc<[Migration]> = Migration::embedded().into();
        let report = migrations::run(storage, &migrations).await?;
        tracing::info!(applied = ?report.applied, already = report.already, "migrations done");
        let config = &completed(config, storage).await.context("cannot read the kept keys")?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (config key `listen`)", config.listen))?;
        let memory = recall(config, storage).await?;
        let base_url = match &config.email.public_url {
            Some(url) => url.to_string(),
            None => format!("http://{}", listener.local_addr()?),
        };
        let links = crate::notify::worker::Links { base: base_url.clone(), offset: config.cases.offset() };
        let (state, writer) = services(config, catalog.clone(), storage, migrations, memory, base_url)?;
        // The files are the first version; later ones are approved changes,
        // and the latest is the one in force.
        let files = crate::register::documents::Documents::of(&catalog.get());
        let (mut version, mut in_force) = state.register.open(&files).await?;
        let with_units = in_force.clone().with_units_of(&files);
        if with_units != in_force {
            // Approved before every stage had to name its unit: the files' units, as a version of its own.
            match state.register.adopt(&with_units, "touchpoint: units from the journey files").await {
                Ok(adopted) => {
                    tracing::warn!(
                        version = adopted,
                        "the version in force named no unit for some stages; took the files' units"
                    );
                    (version, in_force) = (adopted, with_units);
                }
                // Another instance starting at the same moment wrote it.
                Err(ApiError::Conflict { .. }) => (version, in_force) = state.register.open(&files).await?,
                Err(e) => return Err(anyhow::anyhow!("cannot put the files' units in force: {e}")),
            }
        }
        if in_force != files {
            tracing::warn!(
                version,
                "the register and journeys in force are a later version than the files in dashboards_dir"
            );
            let calendar = catalog.get().calendar.clone();
            catalog.set(in_force.catalog(calendar).context("the register version in force does not load")?);
        }
        let seeded = state.lab.seed().await.context("cannot record the journeys' recommendations")?;
        tracing::info!(seeded, "recommendations of the journey files recorded");
        let wiring = crate::notify::Wiring {
            storage: storage.clone(),
            catalog,
            clock: state.dossiers.clock.clone(),
            metrics: state.metrics.clone(),
            links,
            follow: crate::notify::worker::Follow {
                links: state.follow.links.clone(),
                store: state.follow.store.clone(),
            },
            calls_unit: config.cases.calls_unit.clone(),
            letter_cases: crate::cases::letters::LetterCases::new(config.email.secret.as_ref()),
        };
        let notifier = crate::notify::Notifier::new(&config.notify, wiring)?;
        Ok((listener, state, writer, notifier))
    }

    /// Seeds every journey that has no rating yet with `events` synthetic ones.
    pub async fn seed_demo(&self, events: u64) -> anyhow::Result<()> {
        let catalog = self.catalog.get();
        for journey in catalog.journeys() {
            if crate::seed::is_empty(&self.database.storage, &journey.id).await? {
                let done = crate::seed::seed(
                    &self.database.storage,
                    &catalog,
                    journey,
                    events,
                    crate::seed::Options { days: 90, progress: false, offers: true },
                )
                .await?;
                tracing::info!(journey = %journey.id, ratings = done.feedback, "demo data seeded");
            }
        }
        Ok(())
    }

    /// The bound port; useful when the config asked for port 0.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` completes; then lets requests in flight
    /// finish, ships the spool to ClickHouse, and stops the local ClickHouse
    /// if the service owns one. Both steps share one budget,
    /// `spool.drain_timeout` from the signal: a request still running then is
    /// cut, and what is not shipped stays on disk for the next start.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        tracing::info!(address = %self.listener.local_addr()?, "serving");
        let mut notifying = Vec::new();
        if self.background_jobs {
            notifying = self.notifier.spawn();
            let d = &self.state.dossiers;
            let stage_times = crate::dossiers::stages::run(
                d.storage.clone(),
                d.catalog.clone(),
                d.offset,
                self.state.stage_times_every,
                d.clock.clone(),
            );
            notifying.push(tokio::spawn(stage_times));
        } else {
            tracing::info!("background rounds are left to another instance (background_jobs = false)");
        }
        notifying.push(tokio::spawn(self.state.register.clone().follow(self.state.register_every)));
        let (signalled, at_signal) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled.send(tokio::time::Instant::now());
        };
        let served = crate::server::serve(self.listener, app(self.state), self.limits.clone(), shutdown);
        let budget = self.drain_timeout;
        let cut = async move {
            let Ok(at) = at_signal.await else { return std::future::pending().await };
            tokio::time::sleep_until(at + budget).await;
            at
        };
        let deadline = tokio::select! {
            () = served => None,
            at = cut => {
                tracing::warn!(timeout = ?budget, "requests still in flight at the drain timeout are cut");
                Some(at + budget)
            }
        };
        // Whatever a loop was sending is sent again at the next start.
        notifying.iter().for_each(tokio::task::JoinHandle::abort);
        // The router (and with it every spool handle) is gone: the writer drains and ends.
        self.writer.finish(deadline.unwrap_or_else(|| tokio::time::Instant::now() + budget)).await;
        self.database.close().await;
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("stopping: finishing requests in flight");
}
