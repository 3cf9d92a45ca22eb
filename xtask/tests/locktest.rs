#[test]
fn nested() {
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    eprintln!("target {target:?}");
    let st = std::process::Command::new(env!("CARGO"))
        .args(["build", "-p", "kubectl-coreweave"])
        .env("CARGO_TARGET_DIR", &target)
        .status().unwrap();
    assert!(st.success());
}
