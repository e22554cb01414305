//! Browser entry point: install the panic hook (panics show in the console
//! instead of "unreachable") and mount the app.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(cursors_client::app::App);
}
