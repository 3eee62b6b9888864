//! The mount against the kernel: each script runs on a fresh mount and on a
//! tmpfs under `target/fuse-tests/`, and both must print the same. Each
//! case is a behaviour a path-based mount got wrong (set-ID rules, cached
//! attributes, directory streams, special files, ACLs, file handles).
//! Root only (tmpfs, uid switches, devices); skipped, saying why, otherwise.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::{CORPUS, Mount, force_unmount, is_mounted, missing, mount_root};
use erm_fuse::MountConfig;
use ermfs::AtimePolicy;

/// A tmpfs mounted under `target/fuse-tests/`, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn new(name: &str) -> Tmpfs {
        Tmpfs::with(name, "mode=755")
    }

    /// A tmpfs mounted with `options` (`-o`).
    fn with(name: &str, options: &str) -> Tmpfs {
        let dir = mount_root().join(format!("{name}-tmpfs"));
        force_unmount(&dir);
        std::fs::create_dir_all(&dir).expect("create the tmpfs mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs {}", dir.display());
        let dir = dir.canonicalize().expect("canonical mount point");
        Tmpfs { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        force_unmount(&self.dir);
        assert!(std::thread::panicking() || !is_mounted(&self.dir));
    }
}

/// The mount and its oracle, or `None` (saying why) when not root.
fn pair(name: &str) -> Option<(Mount, Tmpfs)> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the tmpfs oracle, uid switches and devices need root");
        return None;
    }
    if missing("setpriv") || missing("python3") || missing("perl") {
        return None;
    }
    let config = MountConfig {
        allow_other: true,
        ..MountConfig::default()
    };
    let m = Mount::with(name, config)?;
    Some((m, Tmpfs::new(name)))
}

/// `MountConfig::atime` against the same option on tmpfs: whether a read
/// moves the access time, the first time (the atime is older than the
/// mtime) and again on a second open a moment later.
#[test]
fn atime_policies_as_mount_options() {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the tmpfs oracle needs root");
        return;
    }
    let script = r#"
        printf 'some bytes\n' > f
        touch -a -d '2000-01-01 00:00:00' f
        a0=$(stat -c %x f)
        cat f > /dev/null
        a1=$(stat -c %x f)
        sleep 0.05
        cat f > /dev/null
        a2=$(stat -c %x f)
        [ "$a0" = "$a1" ] && echo "first read: same" || echo "first read: moved"
        [ "$a1" = "$a2" ] && echo "second read: same" || echo "second read: moved"
    "#;
    let policies = [
        (AtimePolicy::Noatime, "noatime", "same", "same"),
        (AtimePolicy::Relatime, "relatime", "moved", "same"),
        (AtimePolicy::Strict, "strictatime", "moved", "moved"),
    ];
    for (policy, option, first, second) in policies {
        let name = format!("parity-{option}");
        let config = MountConfig {
            atime: Some(policy),
            ..MountConfig::default()
        };
        let Some(m) = Mount::with(&name, config) else {
            return;
        };
        let t = Tmpfs::with(&name, &format!("mode=755,{option}"));
        let out = same(&m, &t, script);
        assert_eq!(
            out,
            format!("first read: {first}\nsecond read: {second}\n"),
            "{option}"
        );
        assert_eq!(m.fs.atime_policy(), policy);
    }
}

/// Runs `script` with `sh -e` in `dir` (umask 022, `$USER4242` a command
/// prefix running as uid/gid 4242); panics with its output if it fails.
fn sh_in(dir: &Path, script: &str) -> String {
    let out = Command::new("sh")
        .args(["-ec", &format!("umask 022\n{script}")])
        .current_dir(dir)
        .env("CORPUS", CORPUS)
        .env("LC_ALL", "C")
        .env(
            "USER4242",
            "setpriv --reuid 4242 --regid 4242 --clear-groups",
        )
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{script}` failed in {} ({}):\nstdout: {}\nstderr: {}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `script` on the mount and on tmpfs; both must print the same.
fn same(m: &Mount, t: &Tmpfs, script: &str) -> String {
    let ours = sh_in(&m.dir, script);
    let kernel = sh_in(&t.dir, script);
    assert_eq!(ours, kernel, "mount vs tmpfs differ for:\n{script}");
    ours
}

#[test]
fn set_id_rules_and_fresh_attributes() {
    let Some((m, t)) = pair("parity-setid") else {
        return;
    };
    // A set-group-ID directory gives its group (and, to directories, the
    // bit); open(O_CREAT) keeps the set-ID bits it asked for.
    let out = same(
        &m,
        &t,
        r#"
        mkdir g && chgrp 4242 g && chmod 2775 g
        touch g/f && mkdir g/s
        python3 -c 'import os; os.close(os.open("g/x", os.O_CREAT | os.O_WRONLY, 0o4755))'
        python3 -c 'import os; os.close(os.open("x", os.O_CREAT | os.O_WRONLY, 0o6755))'
        stat -c '%n %g %a' g/f g/s g/x x
        "#,
    );
    assert!(
        out.contains("g/s 4242 2755") && out.contains("x 0 6755"),
        "{out}"
    );
    // fallocate, punch hole and zero range by an unprivileged owner drop
    // the set-ID bits; stat right after a privilege-dropping write shows
    // the new mode (the kernel's cached one was invalidated).
    let out = same(
        &m,
        &t,
        r#"
        for op in "fallocate -l 16384" "fallocate -p -o 0 -l 4096" "fallocate -z -o 4096 -l 4096"; do
            head -c 8192 /dev/zero > u && chown 4242:4242 u && chmod 6755 u
            stat -c '%a' u > /dev/null
            $USER4242 $op u 2>/dev/null || echo -n "unsupported, "
            echo "$op: $(stat -c '%a' u)"
        done
        echo a > w && chmod 6777 w && stat -c '%a' w
        $USER4242 sh -c 'echo b >> w'
        stat -c '%a' w
        chmod 6777 w && stat -c '%a' w
        $USER4242 truncate -s 1 w
        stat -c '%a' w
        "#,
    );
    assert!(out.contains("fallocate -l 16384: 755"), "{out}");
    assert!(out.ends_with("6777\n777\n6777\n777\n"), "{out}");
}

#[test]
fn directory_streams_and_removed_directories() {
    let Some((m, t)) = pair("parity-dirs") else {
        return;
    };
    let out = same(
        &m,
        &t,
        r#"
        mkdir d && touch d/a
        perl -e 'opendir(D, "d") or die; my @a = sort grep !/^\./, readdir D;
                 open(F, ">d/b") or die; close F; rewinddir D;
                 my @b = sort grep !/^\./, readdir D; print "@a | @b\n"'
        python3 -c '
import os
os.mkdir("e")
fd = os.open("e", os.O_RDONLY | os.O_DIRECTORY)
os.rmdir("e")
st = os.fstat(fd)
print(st.st_nlink, oct(st.st_mode), os.listdir(fd))
try:
    os.open("x", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
except OSError as e:
    print("create in removed dir:", e.strerror)
'
        "#,
    );
    assert!(out.starts_with("a | a b\n0 0o40755 []\n"), "{out}");
}

#[test]
fn fifos_devices_sockets_and_whiteouts() {
    let Some((m, t)) = pair("parity-special") else {
        return;
    };
    let out = same(
        &m,
        &t,
        r#"
        mkfifo p && mknod c c 1 3 && mknod b b 7 0
        python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("s")'
        echo w > w
        python3 -c '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.renameat2(-100, b"w", -100, b"w2", 4)  # RENAME_WHITEOUT
print("whiteout", r, os.strerror(ctypes.get_errno()) if r else "ok")
'
        stat -c '%n %F %t:%T %a %h' p c b s w w2
        (echo through the fifo > p &)
        cat p
        ls
        rm p c b s w w2
        ls
        "#,
    );
    assert!(out.contains("w character special file 0:0"), "{out}");
    assert!(out.contains("through the fifo"), "{out}");
}

#[test]
fn posix_acls() {
    if missing("setfacl") || missing("getfacl") {
        return;
    }
    let Some((m, t)) = pair("parity-acl") else {
        return;
    };
    let out = same(
        &m,
        &t,
        r#"
        echo secret > f && chmod 600 f
        setfacl -m u:4242:r f
        stat -c '%a' f
        getfacl -c f
        $USER4242 cat f
        $USER4242 sh -c 'echo x >> f' 2>/dev/null || echo write refused
        setfacl -b f && stat -c '%a' f
        $USER4242 cat f 2>/dev/null || echo read refused
        mkdir d && setfacl -d -m u:4242:rwx d
        touch d/n && mkdir d/s
        getfacl -c d/n d/s
        stat -c '%a' d/n d/s
        $USER4242 sh -c 'echo y > d/n' && cat d/n
        "#,
    );
    assert!(out.starts_with("640\n"), "{out}");
    assert!(
        out.contains("secret\nwrite refused\n600\nread refused\n"),
        "{out}"
    );
}

/// `struct file_handle` with room for the largest handle (`MAX_HANDLE_SZ`).
#[repr(C)]
struct Handle {
    bytes: u32,
    kind: i32,
    data: [u8; 128],
}

fn handle_of(path: &Path) -> std::io::Result<Handle> {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut h = Handle {
        bytes: 128,
        kind: 0,
        data: [0; 128],
    };
    let mut mount_id = 0;
    // SAFETY: `h` is a file_handle header followed by `bytes` bytes of
    // room; `c` is NUL-terminated; both outlive the call.
    let r = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            c.as_ptr(),
            (&raw mut h).cast(),
            &mut mount_id,
            0,
        )
    };
    if r == 0 {
        Ok(h)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn open_handle(mount: &Path, h: &mut Handle) -> std::io::Result<std::fs::File> {
    let dir = std::fs::File::open(mount)?;
    let handle: *mut libc::file_handle = (&raw mut *h).cast();
    // SAFETY: `handle` was filled by name_to_handle_at; the descriptor is live.
    let fd = unsafe { libc::open_by_handle_at(dir.as_raw_fd(), handle, libc::O_RDONLY) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: open_by_handle_at returned a new descriptor we own.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn drop_caches() {
    std::fs::write("/proc/sys/vm/drop_caches", "3").expect("drop the kernel's caches");
}

/// What file handles give on `dir`: contents through them after the kernel
/// dropped its caches, then the errno once the file is gone.
fn file_handles(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir.join("d/e")).unwrap();
    std::fs::write(dir.join("d/e/f"), "by handle").unwrap();
    let mut file = handle_of(&dir.join("d/e/f")).expect("name_to_handle_at of a file");
    let mut sub = handle_of(&dir.join("d/e")).expect("name_to_handle_at of a directory");
    drop_caches();
    let mut seen = Vec::new();
    let mut text = String::new();
    open_handle(dir, &mut file)
        .expect("open_by_handle_at after drop_caches")
        .read_to_string(&mut text)
        .unwrap();
    seen.push(text);
    let d = open_handle(dir, &mut sub).expect("open a directory by handle");
    seen.push(format!("dir: {}", d.metadata().unwrap().is_dir()));
    // The parent chain is rebuilt from the handle alone (LOOKUP of "..").
    let path = std::fs::read_link(format!("/proc/self/fd/{}", d.as_raw_fd())).unwrap();
    let shown = path
        .strip_prefix(dir)
        .unwrap_or_else(|_| panic!("{} is not under {}", path.display(), dir.display()));
    seen.push(shown.display().to_string());
    drop(d);
    std::fs::remove_file(dir.join("d/e/f")).unwrap();
    drop_caches();
    let gone = open_handle(dir, &mut file).unwrap_err();
    seen.push(format!("after unlink: {:?}", gone.raw_os_error()));
    seen
}

#[test]
fn file_handles_survive_dropped_caches() {
    let Some((m, t)) = pair("parity-handles") else {
        return;
    };
    let ours = file_handles(&m.dir);
    assert_eq!(ours, file_handles(&t.dir));
    assert_eq!(ours[0], "by handle");
    assert_eq!(ours[3], format!("after unlink: {:?}", Some(libc::ESTALE)));
}
