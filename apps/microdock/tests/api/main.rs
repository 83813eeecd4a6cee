//! MicroDock black-box tests.
