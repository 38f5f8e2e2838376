//! Notifications that are never lost: every case event to each webhook
//! (Standard Webhooks), a letter to the unit on each new case, and each
//! working day a digest of the unit's overdue cases. What is owed is read
//! from ClickHouse on every round (`outbox`), and each attempt is recorded
//! there, so delivery is at least once through receiver, mail-server and
//! ClickHouse outages and restarts. Two instances would both deliver: run
//! notifications on one (issue 17 takes up several).

mod digest;
mod mail;
pub mod message;
pub mod outbox;
mod webhook;
pub mod worker;

use std::sync::Arc;

use anyhow::Context as _;
use lettre::message::Mailbox;

pub use crate::config::NotifyConfig;
use outbox::{Deliveries, Scope};
use worker::{Channel, Links, Policy, Shared, Target};

use crate::cases::CaseBook;
use crate::domain::time::Clock;
use crate::journeys::Catalog;
use crate::metrics::Metrics;
use crate::storage::Storage;

/// What the notification loops need from the rest of the service.
pub struct Wiring {
    pub storage: Storage,
    /// The production calendar (for digests) and the units journeys name.
    pub catalog: crate::journeys::Live,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
    /// The links letters give: `<links.base>/cases/<id>`.
    pub links: Links,
    /// The clients' follow links and the addresses they left.
    pub follow: worker::Follow,
    /// `cases.calls_unit`, a unit no journey file names.
    pub calls_unit: Option<String>,
    /// The keyed case ids of letters acknowledged late.
    pub letter_cases: crate::cases::letters::LetterCases,
}

/// The loops to run: one per webhook, per unit mailbox and per unit digest.
pub struct Notifier {
    targets: Vec<Target>,
    digests: Vec<digest::Digest>,
    shared: Shared,
    /// Deletes clients' addresses 30 days after their case closes.
    janitor: crate::follow::FollowStore,
    /// Opens the cases of letters not acknowledged in time.
    letters: Letters,
}

/// What the round of late letters needs.
struct Letters {
    storage: Storage,
    catalog: crate::journeys::Live,
    deadlines: crate::cases::Deadlines,
    ids: crate::cases::letters::LetterCases,
}

impl Notifier {
    /// Builds every target `config` names; an error names the config key.
    pub fn new(config: &NotifyConfig, wiring: Wiring) -> anyhow::Result<Notifier> {
        let shared = Shared {
            deliveries: Deliveries::new(wiring.storage.clone()),
            policy: Policy::new(config),
            clock: wiring.clock.clone(),
            metrics: wiring.metrics.clone(),
        };
        let mut targets = Vec::new();
        for hook in &config.webhooks {
            let channel = Channel::Webhook(webhook::Webhook::new(hook).context("notify.webhooks")?);
            targets.push(Target { name: format!("webhook:{}", hook.name), scope: Scope::Everything, channel });
        }
        let mut digests = Vec::new();
        let janitor = wiring.follow.store.clone();
        let letters = Letters {
            storage: wiring.storage.clone(),
            catalog: wiring.catalog.clone(),
            deadlines: crate::cases::Deadlines {
                calendar: wiring.catalog.get().calendar.clone(),
                offset: wiring.links.offset,
            },
            ids: wiring.letter_cases.clone(),
        };
        let Some(smtp) = &config.smtp else {
            if !config.units.is_empty() {
                tracing::warn!("notify.units has addresses but notify.smtp is not set: no letters are sent");
            }
            return Ok(Notifier { targets, digests, shared, janitor, letters });
        };
        let mailer = mail::Mailer::new(smtp).context("notify.smtp")?;
        let channel = Channel::Client { mailer: mailer.clone(), follow: Box::new(wiring.follow.clone()) };
        targets.push(Target { name: "client".into(), scope: Scope::Answers, channel });
        let mut named = units(&wiring.catalog.get());
        named.extend(wiring.calls_unit.clone());
        for unit in named.iter().filter(|u| !config.units.contains_key(*u)) {
            tracing::warn!(unit = %unit, "a unit without addresses in notify.units gets no letters");
        }
        for (unit, addresses) in &config.units {
            let to: Vec<Mailbox> =
                addresses.iter().map(|a| a.parse()).collect::<Result<_, _>>().context("notify.units")?;
            let channel = Channel::Mail { mailer: mailer.clone(), to: to.clone(), links: wiring.links.clone() };
            targets.push(Target { name: format!("mail:{unit}"), scope: Scope::OpenedIn(unit.clone()), channel });
            digests.push(digest::Digest {
                unit: unit.clone(),
                to,
                mailer: mailer.clone(),
                links: wiring.links.clone(),
                book: CaseBook::new(wiring.storage.clone()),
                catalog: wiring.catalog.clone(),
                at: config.digest_time(),
            });
        }
        Ok(Notifier { targets, digests, shared, janitor, letters })
    }

    /// Starts the loops; they run until the handles are aborted.
    pub fn spawn(self) -> Vec<tokio::task::JoinHandle<()>> {
        let Notifier { targets, digests, shared, janitor, letters } = self;
        let mut tasks: Vec<_> = targets.into_iter().map(|t| tokio::spawn(worker::run(t, shared.clone()))).collect();
        tasks.extend(digests.into_iter().map(|d| tokio::spawn(digest::run(d, shared.clone()))));
        tasks.push(tokio::spawn(forget_addresses(janitor, shared.clone())));
        tasks.push(tokio::spawn(open_late_letters(letters, shared)));
        tasks
    }
}

/// Every `housekeeping_interval`, opens the cases of letters whose acknowledgement is late.
async fn open_late_letters(letters: Letters, shared: Shared) {
    loop {
        let now = crate::domain::time::unix((shared.clock)());
        match crate::cases::letters::open_late(
            &letters.storage,
            &letters.catalog.get(),
            (&letters.deadlines, &letters.ids),
            now,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "cases opened for letters not acknowledged in time"),
            Err(e) => tracing::warn!(error = %e, "cannot look for letters acknowledged late; trying again"),
        }
        tokio::time::sleep(shared.policy.housekeeping).await;
    }
}

/// Every `housekeeping_interval`, deletes the addresses of cases closed more than 30 days ago.
async fn forget_addresses(store: crate::follow::FollowStore, shared: Shared) {
    loop {
        match store.forget_closed(crate::domain::time::unix((shared.clock)())).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "clients' addresses deleted 30 days after their case closed"),
            Err(e) => tracing::warn!(error = %e, "cannot delete clients' addresses; trying again"),
        }
        tokio::time::sleep(shared.policy.housekeeping).await;
    }
}

/// Every unit a journey file names, for a stage or as a journey's default.
fn units(catalog: &Catalog) -> std::collections::BTreeSet<String> {
    catalog
        .journeys()
        .flat_map(|j| j.stages.iter().filter_map(|s| s.unit.clone()).chain(j.cases.unit.clone()))
        .collect()
}
