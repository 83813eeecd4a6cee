"""Drives every method of the seed's MicroDockClient and PluginPackageBuilder against a running
server. Usage: run_client.py BASE_URL ADMIN_PASSWORD WORK_DIR. Exits non-zero on the first
failed expectation."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from microdock_client import MicroDockClient  # noqa: E402
from create_plugin_package import PluginPackageBuilder  # noqa: E402

base, password, work = sys.argv[1], sys.argv[2], Path(sys.argv[3])
work.mkdir(parents=True, exist_ok=True)


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


files = work / "plugin_files"
files.mkdir(exist_ok=True)
(files / "MyPlugin.dll").write_bytes(b"MZ\x90\x00fake dll")
(files / "README.md").write_text("readme", encoding="utf-8")
(files / "resources").mkdir(exist_ok=True)
(files / "resources" / "icon.txt").write_text("icon", encoding="utf-8")


built = {}


def build(version):
    # Each version is built once: a zip records its entries' modification times (2 s
    # resolution), so building 1.1.0 again for the duplicate upload could write different
    # bytes than the stored 1.1.0 and fail the download comparison (a rare flake).
    if version in built:
        return built[version]
    b = PluginPackageBuilder("com.example.myplugin", version)
    b.set_main_dll("MyPlugin.dll", "MyPlugin.PluginEntry")
    b.set_metadata(display_name="我的插件", description="这是一个示例插件", author="开发者姓名",
                   license="MIT", homepage="https://example.com/myplugin", changelog=f"版本 {version}")
    b.set_dependencies({"com.other.plugin": ">=1.0.0"})
    b.set_engines({"MicroDock": ">=2.0.0"})
    b.add_file(files / "MyPlugin.dll")
    b.add_file(files / "README.md")
    b.add_directory(files / "resources", "resources")
    built[version] = b.build(work / f"myplugin@{version}.zip")
    return built[version]


with MicroDockClient(base) as c:
    info = c.get_server_info()
    check(info["success"] and info["data"]["message"] == "MicroDock PluginServer API", f"server info {info}")
    health = c.get_health_status()
    check(health["data"]["status"] == "healthy", f"health {health}")
    check(c.get_auth_status()["data"]["is_logged_in"] is False, "anonymous status")

    login = c.login("admin", password)
    check(login["success"] and c.token, f"login {login}")
    status = c.get_auth_status()["data"]
    check(status["is_logged_in"] and status["is_admin"] and status["username"] == "admin", f"status {status}")

    up = c.upload_plugin(build("1.0.0"), "my_secret_key")
    check(up["success"] and up["data"]["current_version"] == "1.0.0", f"upload {up}")
    up = c.upload_plugin(build("1.1.0"), "my_secret_key")
    check(up["data"]["current_version"] == "1.1.0", f"upload 1.1.0 {up}")
    dup = c.upload_plugin(build("1.1.0"), "my_secret_key")
    check(dup["success"] is False and "已存在" in dup["message"], f"duplicate {dup}")
    bad = c.upload_plugin(build("1.2.0"), "wrong_key")
    check(bad["success"] is False, f"wrong key {bad}")
    check(c.upload_plugin(work / "missing.zip", "k")["success"] is False, "missing file")

    plugins = c.get_plugins()
    check([p["name"] for p in plugins["data"]] == ["com.example.myplugin"], f"list {plugins}")
    detail = c.get_plugin_detail("com.example.myplugin")["data"]
    check(detail["plugin"]["display_name"] == "我的插件" and len(detail["versions"]) == 2, f"detail {detail}")
    versions = c.get_plugin_versions("com.example.myplugin")["data"]
    check([v["version"] for v in versions] == ["1.1.0", "1.0.0"], f"versions {versions}")
    v = c.get_version_detail("com.example.myplugin", "1.0.0")["data"]
    check(v["engines"] == {"MicroDock": ">=2.0.0"} and v["changelog"] == "版本 1.0.0", f"version {v}")

    downloads = work / "downloads"
    downloads.mkdir(exist_ok=True)
    r = c.download_plugin("com.example.myplugin", save_path=downloads)
    check(r.status_code == 200, f"download {r.status_code}")
    saved = downloads / "com.example.myplugin@1.1.0.zip"
    got, want = saved.read_bytes(), (work / "myplugin@1.1.0.zip").read_bytes()
    check(got == want, f"downloaded bytes: got {len(got)} bytes, want {len(want)}; "
          f"status {r.status_code}, headers {dict(r.headers)}")
    r = c.download_version("com.example.myplugin", "1.0.0", save_path=downloads)
    check((downloads / "com.example.myplugin@1.0.0.zip").read_bytes() == (work / "myplugin@1.0.0.zip").read_bytes(), "version bytes")

    check(c.disable_plugin("com.example.myplugin")["data"]["is_enabled"] is False, "disable")
    check(c.download_plugin("com.example.myplugin").status_code == 403, "disabled download")
    check(c.enable_plugin("com.example.myplugin")["data"]["is_enabled"] is True, "enable")
    dv = c.deprecate_version("com.example.myplugin", "1.1.0")
    check(dv["data"]["is_deprecated"] is True, f"deprecate version {dv}")
    check(c.get_plugin_detail("com.example.myplugin")["data"]["plugin"]["current_version"] == "1.0.0", "current after deprecation")
    check(c.deprecate_plugin("com.example.myplugin")["data"]["is_deprecated"] is True, "deprecate plugin")

    backup = work / "backup.zip"
    backup.write_bytes(b"backup bytes")
    check(c.upload_backup(backup, "user123abc", "system")["success"] is False, "bad type refused client-side")
    ub = c.upload_backup(backup, "user123abc", "program", "程序配置备份")
    check(ub["success"] and ub["data"]["file_size"] == 12, f"backup upload {ub}")
    bl = c.get_backup_list("user123abc")["data"]
    check(bl["total"] == 1 and bl["backups"][0]["description"] == "程序配置备份", f"backup list {bl}")
    all_b = c.get_all_backup_list()["data"]
    check(all_b["total"] == 1, f"all backups {all_b}")
    bdir = work / "backups"
    bdir.mkdir(exist_ok=True)
    r = c.download_backup("user123abc", ub["data"]["id"], save_path=bdir)
    check(r.status_code == 200 and (bdir / "backup.zip").read_bytes() == b"backup bytes", "backup download")
    check(c.delete_backup("user123abc", ub["data"]["id"])["success"], "backup delete")
    check(c.get_backup_list("user123abc")["data"]["total"] == 0, "backup gone")

    check(c.delete_plugin("com.example.myplugin")["success"], "delete plugin")
    check(c.get_plugin_detail("com.example.myplugin")["success"] is False, "plugin gone")
    out = c.logout()
    check(out["success"] and c.token is None, f"logout {out}")

print("python client: all methods ok")
