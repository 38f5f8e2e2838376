//! The OpenAPI document's frame; the paths come from the handlers' own
//! `#[utoipa::path]` attributes as the routers are built.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "touchpoint",
        description = "Client ratings and time spent at the touchpoints of public services' journeys. \
                       Сбор оценок клиентов и времени в точках взаимодействия.",
    ),
    modifiers(&StaffToken),
    tags(
        (name = "capture", description = "Public, write-only endpoints for clients"),
        (name = "staff", description = "Endpoints for the ministry's own systems; bearer token"),
        (name = "journeys", description = "The journeys and the touchpoint register"),
        (name = "widget", description = "The embeddable widget and its no-JavaScript form"),
        (name = "dashboards", description = "The analysts' read API; an analyst's API token or login"),
        (name = "cases", description = "The case queue: a handler's API token or login, the cases of its units"),
        (name = "register", description = "Versions of the register and the journeys: public; drafts for editors, decisions for approvers"),
        (name = "health", description = "Probes"),
    )
)]
pub struct ApiDoc;

struct StaffToken;

impl Modify for StaffToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["staff_token", "api_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}
