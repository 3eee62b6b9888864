//! `cargo xtask install-mount [PREFIX]`: `ermfs-mount` into `PREFIX/bin`
//! and the `mount(8)` helper `PREFIX/sbin/mount.fuse.ermfs` (a symlink
//! to it: called by that name it takes the helper's arguments), so with
//! `PREFIX=/usr` (`/sbin` on a merged-/usr system) `mount -t fuse.ermfs
//! ram /mnt -o size=2G` and an fstab line work. The CI step installs into
//! `target/mount-helper` and mounts through the helper exactly as
//! `mount(8)` calls it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, exec, root};

/// Builds the release binary and installs it and the helper under
/// `prefix` (default `/usr`, where `mount(8)` finds helpers).
pub fn install(prefix: Option<&str>) -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let prefix = cwd.join(prefix.unwrap_or("/usr"));
    exec(cargo().args([
        "build",
        "--release",
        "-p",
        "erm-fuse",
        "--bin",
        "ermfs-mount",
    ]))?;
    let (bin, sbin) = (prefix.join("bin"), prefix.join("sbin"));
    for dir in [&bin, &sbin] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let from = root().join("target/release/ermfs-mount");
    let to = bin.join("ermfs-mount");
    std::fs::copy(&from, &to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    let helper = sbin.join("mount.fuse.ermfs");
    let _ = std::fs::remove_file(&helper);
    // Absolute, so the helper still resolves when its directory is seen
    // elsewhere (the CI step overlays it onto /usr/sbin).
    std::os::unix::fs::symlink(&to, &helper).map_err(|e| format!("{}: {e}", helper.display()))?;
    println!(
        "installed {} and {} (-> {})",
        to.display(),
        helper.display(),
        to.display()
    );
    Ok(prefix)
}

/// `findmnt -n -o COLUMN DIR`, trimmed.
fn findmnt(dir: &Path, column: &str) -> String {
    Command::new("findmnt")
        .args(["-n", "-o", column])
        .arg(dir)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The CI step: install under `target/mount-helper`, mount through the
/// helper with `mount(8)`'s arguments, check the mount table, a fake
/// mount (`-f`) and a refusal. Root only (mount(2)); skipped otherwise.
pub fn ci() -> Result<(), String> {
    // The effective uid, without a libc call in xtask.
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        println!("mount helper: SKIPPED (needs root)");
        return Ok(());
    }
    let prefix = install(Some(
        root()
            .join("target/mount-helper")
            .to_str()
            .ok_or("non-UTF-8 path")?,
    ))?;
    let helper = prefix.join("sbin/mount.fuse.ermfs");
    let mnt = prefix.join("mnt");
    let _ = Command::new("umount").arg(&mnt).status();
    std::fs::create_dir_all(&mnt).map_err(|e| format!("{}: {e}", mnt.display()))?;
    // As mount(8) calls it for `mount -t fuse.ermfs ram MNT -o ...` or the
    // fstab line `ram MNT fuse.ermfs size=32M,mode=1777,noatime 0 0`.
    exec(
        Command::new(&helper)
            .arg("ram")
            .arg(&mnt)
            .args(["-o", "rw,size=32M,mode=1777,noatime,level=9,nofail"]),
    )?;
    let checks = (|| {
        let (fstype, source, options) = (
            findmnt(&mnt, "FSTYPE"),
            findmnt(&mnt, "SOURCE"),
            findmnt(&mnt, "OPTIONS"),
        );
        if fstype != "fuse.ermfs" || source != "ram" || !options.split(',').any(|o| o == "noatime")
        {
            return Err(format!(
                "mount through the helper: type {fstype:?}, source {source:?}, options {options:?}"
            ));
        }
        let mode = Command::new("stat").args(["-c", "%a"]).arg(&mnt).output();
        let mode = mode.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
        if mode.as_ref().ok().map(String::as_str) != Some("1777") {
            return Err(format!("mode=1777 gave {mode:?}"));
        }
        std::fs::write(mnt.join("f"), "through the helper")
            .map_err(|e| format!("write on the helper's mount: {e}"))?;
        Ok(())
    })();
    exec(Command::new("umount").arg(&mnt))?;
    checks?;
    // A fake mount does nothing; a bad option is refused, nothing mounted.
    exec(Command::new(&helper).arg("ram").arg(&mnt).arg("-f"))?;
    let refused = Command::new(&helper)
        .arg("ram")
        .arg(&mnt)
        .args(["-o", "size=lots"])
        .output()
        .map_err(|e| format!("{}: {e}", helper.display()))?;
    let said = String::from_utf8_lossy(&refused.stderr);
    if refused.status.success() || !said.contains("not a size") {
        return Err(format!("size=lots through the helper: {said}"));
    }
    if !findmnt(&mnt, "FSTYPE").is_empty() {
        return Err("a fake or refused mount left a mount behind".into());
    }
    through_mount8(&prefix)?;
    println!(
        "mount helper: mounted fuse.ermfs through {} with -o options, \
         with `mount -t fuse.ermfs` and from an fstab line; mount -o remount changed it",
        helper.display()
    );
    Ok(())
}

/// `mount -t fuse.ermfs` and an fstab line, through `mount(8)` itself.
/// `mount(8)` looks for helpers only in `/sbin`, so this runs in a mount
/// namespace of its own where `/usr/sbin` is overlaid with the prefix's
/// `sbin`: the system is untouched and the namespace goes with the shell.
fn through_mount8(prefix: &Path) -> Result<(), String> {
    let (sbin, mnt) = (prefix.join("sbin"), prefix.join("mnt"));
    let fstab = prefix.join("fstab");
    let line = format!(
        "ram {} fuse.ermfs size=16M,mode=1777,noatime,level=1 0 0\n",
        mnt.display()
    );
    std::fs::write(&fstab, line).map_err(|e| format!("{}: {e}", fstab.display()))?;
    // Each check prints what it saw and fails the script on a mismatch.
    let script = r#"
set -eu
trap 'umount -l "$MNT" 2>/dev/null || true' EXIT
mount -t overlay overlay -o "lowerdir=$SBIN:/usr/sbin" /usr/sbin
expect() { [ "$2" = "$3" ] || { echo "$1: expected $3, got $2" >&2; exit 1; }; }
mount -t fuse.ermfs ram "$MNT" -o size=32M,mode=0711
expect "mount -t: type" "$(findmnt -n -o FSTYPE "$MNT")" fuse.ermfs
expect "mount -t: size" "$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')" 33554432
expect "mount -t: mode" "$(stat -c %a "$MNT")" 711
umount "$MNT"
mount -T "$FSTAB" "$MNT"
expect "fstab: type" "$(findmnt -n -o FSTYPE "$MNT")" fuse.ermfs
expect "fstab: size" "$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')" 16777216
expect "fstab: mode" "$(stat -c %a "$MNT")" 1777
findmnt -n -o OPTIONS "$MNT" | tr , '
' | grep -qx noatime || { echo "fstab: no noatime" >&2; exit 1; }
echo "from fstab" > "$MNT/f"
expect "fstab: read back" "$(cat "$MNT/f")" "from fstab"
mount -o remount,size=48M "$MNT"
expect "mount -o remount: size" "$(df -B1 --output=size "$MNT" | tail -1 | tr -d ' ')" 50331648
mount -T "$FSTAB" -o remount,nr_inodes=3 "$MNT"
expect "remount from fstab: inodes" "$(df --output=itotal "$MNT" | tail -1 | tr -d ' ')" 3
mount -o remount,strictatime "$MNT"
findmnt -n -o OPTIONS "$MNT" | tr , '\n' | grep -qx noatime && { echo "remount strictatime: noatime still shown" >&2; exit 1; }
head -c 200000 /dev/urandom > "$MNT/noise"
if mount -o remount,size=64k "$MNT" 2>/dev/null; then echo "remount below use accepted" >&2; exit 1; fi
expect "fstab: read back after remounts" "$(cat "$MNT/f")" "from fstab"
umount "$MNT"
mount -T "$FSTAB" -a -t fuse.ermfs
expect "mount -a: type" "$(findmnt -n -o FSTYPE "$MNT")" fuse.ermfs
umount "$MNT"
"#;
    exec(
        Command::new("timeout")
            .args(["120", "unshare", "-m", "--propagation", "private"])
            .args(["sh", "-c", script])
            .env("SBIN", &sbin)
            .env("MNT", &mnt)
            .env("FSTAB", &fstab),
    )
    .map_err(|e| format!("mount(8) through the helper: {e}"))
}
