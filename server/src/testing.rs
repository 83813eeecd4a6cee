//! The server side of the test kit (feature `testing`): [`launch`] builds and runs the real
//! server through [`crate::build_on`] and [`crate::run`], the functions `main` uses, for
//! `trellis_kernel::testing::TestApp`.

#![expect(clippy::expect_used, reason = "a test kit fails the test by panicking")]

use futures::FutureExt as _;
use futures::future::BoxFuture;
use trellis_identity::domain::Role;
use trellis_kernel::Platform;
use trellis_kernel::testing::{Launched, TestUser};

/// Builds the server on `platform`, creates `users`, and serves it on 127.0.0.1:<ephemeral>
/// until the returned `stop` fires. Panics (failing the test) if the server cannot be built.
pub fn launch(platform: Platform, users: Vec<TestUser>) -> BoxFuture<'static, Launched> {
    async move {
        let server = crate::build_on(platform).await.expect("build the server");
        for u in users {
            let role = Role::parse(&u.role).expect("role is user, admin or super_admin");
            server
                .identity
                .create_admin(
                    &u.username,
                    &format!("{}@example.com", u.username),
                    &u.password,
                    role,
                )
                .await
                .expect("create test user");
        }
        let listener = crate::listen(([127, 0, 0, 1], 0).into()).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped_rx.await;
            };
            if let Err(e) = crate::run(listener, server, shutdown).await {
                tracing::error!(error = %e, "test server failed");
            }
        });
        Launched {
            addr,
            stop,
            stopped,
        }
    }
    .boxed()
}
