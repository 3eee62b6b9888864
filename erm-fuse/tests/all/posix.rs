//! Calls no common program makes alone: rename flags, errnos, permissions
//! for a second uid.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::common::{Mount, missing};
use erm_fuse::MountConfig;

pub(super) fn renameat2(from: &Path, to: &Path, flags: u32) -> std::io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes()).unwrap();
    let to = CString::new(to.as_os_str().as_bytes()).unwrap();
    // SAFETY: both strings are NUL-terminated and outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            flags,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn rename_noreplace_and_exchange() {
    let Some(m) = Mount::new("rename") else {
        return;
    };
    std::fs::write(m.path("a"), "A").unwrap();
    std::fs::write(m.path("b"), "B").unwrap();
    std::fs::create_dir(m.path("d")).unwrap();
    let e = renameat2(&m.path("a"), &m.path("b"), libc::RENAME_NOREPLACE).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    renameat2(&m.path("a"), &m.path("d/a"), libc::RENAME_NOREPLACE).unwrap();
    renameat2(&m.path("d/a"), &m.path("b"), libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(std::fs::read_to_string(m.path("b")).unwrap(), "A");
    assert_eq!(std::fs::read_to_string(m.path("d/a")).unwrap(), "B");
    let e = renameat2(&m.path("b"), &m.path("nope"), libc::RENAME_EXCHANGE).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    let mut names: Vec<_> = std::fs::read_dir(&m.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["b", "d"]);
    // The same through the API.
    assert_eq!(m.fs.read_file("/d/a").unwrap(), b"B");
}

#[test]
fn a_tree_with_64_kib_of_path() {
    // Linux limits each path argument to 4,095 bytes, not the depth of a
    // tree: 260 levels of 255-byte names (66 KiB) are made with relative
    // steps, moved under a longer prefix, and removed with rm -rf.
    if missing("python3") {
        return;
    }
    let Some(m) = Mount::new("deep") else {
        return;
    };
    let script = r#"python3 -c '
import os
n = "0" * 255
os.makedirs("long/prefix")
os.mkdir("top")
os.chdir("top")
for _ in range(260):
    os.mkdir(n)
    os.chdir(n)
with open("f", "w") as f:
    f.write("deep\n")
print(open("f").read(), end="")
'"#;
    assert_eq!(m.sh(script), "deep\n");
    // The file is 260 * 256 bytes of path below the mount.
    let mut dir = m.fs.lookup(&m.fs.root(), "top").unwrap();
    for _ in 0..260 {
        dir = m.fs.lookup(&dir, "0".repeat(255)).unwrap();
    }
    assert_eq!(m.fs.getattr(&m.fs.lookup(&dir, "f").unwrap()).size, 5);
    let out = m.sh("find top -name f | wc -l && mv top long/prefix/ && rm -rf long && ls -A");
    assert_eq!(out, "1\n");
    assert_eq!(m.fs.readdir("/").unwrap().len(), 2);
}

#[test]
fn errnos_reach_the_caller() {
    let Some(m) = Mount::new("errnos") else {
        return;
    };
    let code = |r: std::io::Result<()>| r.unwrap_err().raw_os_error();
    std::fs::create_dir(m.path("d")).unwrap();
    std::fs::write(m.path("d/f"), "x").unwrap();
    assert_eq!(
        code(std::fs::remove_dir(m.path("d"))),
        Some(libc::ENOTEMPTY)
    );
    assert_eq!(code(std::fs::create_dir(m.path("d"))), Some(libc::EEXIST));
    assert_eq!(code(std::fs::remove_file(m.path("zz"))), Some(libc::ENOENT));
    assert_eq!(
        code(std::fs::rename(m.path("d"), m.path("d/f/x"))),
        Some(libc::ENOTDIR)
    );
    assert_eq!(
        code(std::fs::rename(m.path("d"), m.path("d/sub"))),
        Some(libc::EINVAL)
    );
    let long = "n".repeat(256);
    assert_eq!(
        code(std::fs::write(m.path(&long), "x")),
        Some(libc::ENAMETOOLONG)
    );
}

/// A mount that other uids may use (`allow_other`), when the tests run as
/// root; `None`, saying why, otherwise.
fn mount_for_a_second_uid(name: &str) -> Option<Mount> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: switching to a second uid needs root");
        return None;
    }
    let config = MountConfig {
        allow_other: true,
        ..MountConfig::default()
    };
    Mount::with(name, config)
}

#[test]
fn a_second_uid_meets_the_mode_bits() {
    if missing("setpriv") {
        return;
    }
    let Some(m) = mount_for_a_second_uid("uid") else {
        return;
    };
    m.sh("echo secret > private && chmod 600 private && echo open > public && chmod 644 public");
    m.sh("mkdir shared && chmod 1777 shared && mkdir mine && chmod 755 mine");
    let as_user = |script: &str| {
        m.sh_output(&format!(
            "setpriv --reuid 4242 --regid 4242 --clear-groups sh -c '{script}'"
        ))
    };
    assert!(!as_user("cat private").status.success());
    let public = as_user("cat public");
    assert_eq!(String::from_utf8_lossy(&public.stdout).trim(), "open");
    assert!(!as_user("echo x > mine/f").status.success());
    assert!(as_user("echo x > shared/f").status.success());
    let st = m.fs.stat("/shared/f").unwrap();
    assert_eq!((st.uid, st.gid), (4242, 4242));
    // Sticky directory: root's file there is not the user's to delete.
    m.sh("echo r > shared/r");
    assert!(!as_user("rm -f shared/r").status.success());
    assert!(as_user("rm shared/f").status.success());
}

#[test]
fn writes_and_truncates_drop_set_id_bits_and_capabilities() {
    // The mount handles KILLPRIV_V2: what the kernel clears on a local
    // disk, the file system clears here.
    if missing("setpriv") || missing("python3") {
        return;
    }
    let Some(m) = mount_for_a_second_uid("killpriv") else {
        return;
    };
    let mode = |p: &str| m.fs.stat(p).unwrap().mode & 0o7777;
    let caps = |p: &str| m.fs.getxattr(p, "security.capability", &mut []).is_ok();
    // A valid v2 capability set (CAP_NET_BIND_SERVICE, effective).
    let set_caps = "python3 -c 'import os,struct; os.setxattr(\"f\", \"security.capability\", \
                    struct.pack(\"<5I\", 0x02000001, 1 << 10, 0, 0, 0))'";
    m.sh(&format!("echo a > f && chmod 6777 f && {set_caps}"));
    assert!(caps("/f"));
    // Root (CAP_FSETID) keeps the set-ID bits; the capabilities go.
    m.sh("echo b >> f");
    assert_eq!((mode("/f"), caps("/f")), (0o6777, false));
    let as_user = |script: &str| {
        let out = m.sh_output(&format!(
            "setpriv --reuid 4242 --regid 4242 --clear-groups sh -c '{script}'"
        ));
        assert!(out.status.success(), "{script}: {out:?}");
    };
    // Another user: set-user-ID and (group-executable) set-group-ID go.
    as_user("echo c >> f");
    assert_eq!(mode("/f"), 0o777);
    m.sh("chmod 6777 f");
    as_user("truncate -s 1 f");
    assert_eq!(mode("/f"), 0o777);
    // open(O_TRUNC) reaches the store whole (ATOMIC_O_TRUNC).
    m.sh("chmod 6777 f");
    as_user("printf z > f");
    assert_eq!(
        (mode("/f"), m.fs.read_file("/f").unwrap()),
        (0o777, b"z".to_vec())
    );
    // Not group-executable: set-group-ID stays for a writer in the
    // file's group and goes for one outside it, as on tmpfs (Linux's
    // `setattr_should_drop_sgid`).
    m.sh(&format!("chmod 6766 f && chgrp 4242 f && {set_caps}"));
    as_user("echo d >> f");
    assert_eq!((mode("/f"), caps("/f")), (0o2766, false));
    m.sh("chgrp 0 f && chmod 6766 f");
    as_user("echo e >> f");
    assert_eq!(mode("/f"), 0o766);
    // chown drops capabilities too.
    m.sh(&format!("{set_caps} && chown 4242 f"));
    assert!(!caps("/f"));
}

#[test]
fn kept_page_cache_never_serves_stale_bytes() {
    let Some(m) = Mount::new("cache") else {
        return;
    };
    let p = m.path("f");
    std::fs::write(&p, "one").unwrap();
    for _ in 0..2 {
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one");
    }
    // Through the mount: the kernel's cache follows.
    std::fs::write(&p, "two!").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "two!");
    // Behind the mount's back (the same store, in process): a new stamp.
    m.fs.write_file("/f", "three").unwrap();
    std::thread::sleep(erm_fuse::DEFAULT_TTL + std::time::Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "three");
}

#[test]
fn copy_file_range_inside_the_store() {
    let Some(m) = Mount::new("copyrange") else {
        return;
    };
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(m.path("src"), &data).unwrap();
    // std::fs::copy uses copy_file_range on Linux.
    let n = std::fs::copy(m.path("src"), m.path("dst")).unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(std::fs::read(m.path("dst")).unwrap(), data);
    assert_eq!(m.fs.read_file("/dst").unwrap(), data);
}

#[test]
fn the_mount_counts_its_requests_per_operation() {
    for passthrough in [false, true] {
        counts_requests(passthrough);
    }
}

fn counts_requests(passthrough: bool) {
    use erm_fuse::control;
    use erm_fuse::requests::Op;
    let config = erm_fuse::MountConfig {
        passthrough,
        ..erm_fuse::MountConfig::default()
    };
    let Some(m) = Mount::with("requests", config) else {
        return;
    };
    // As root on this kernel (6.9+) the kernel writes the open file itself.
    let passed_through = passthrough && super::common::is_root();
    let before = control::requests(&m.dir).unwrap();
    std::fs::create_dir(m.path("d")).unwrap();
    std::fs::write(m.path("d/f"), b"four").unwrap();
    assert_eq!(std::fs::read(m.path("d/f")).unwrap(), b"four");
    let served = control::requests(&m.dir).unwrap().since(&before);
    // One request per call that reaches the daemon: the kernel's caches
    // answer the rest (the read of a file just written comes from its
    // page cache, so READ may be 0).
    assert_eq!(served.get(Op::Mkdir), 1, "{served}");
    assert_eq!(served.get(Op::Create), 1, "{served}");
    let writes = if passed_through { 0 } else { 1 };
    assert_eq!(served.get(Op::Write), writes, "{served}");
    assert!(
        served.get(Op::Ioctl) >= 1,
        "the first count's own ioctl: {served}"
    );
    assert!(served.total() >= 4, "{served}");
    // Only the root answers; elsewhere an ioctl is unknown, as on tmpfs.
    let elsewhere = control::requests(&m.path("d")).unwrap_err();
    assert_eq!(elsewhere.raw_os_error(), Some(libc::ENOTTY));
}

/// A file open through the mount (passed through to the kernel as root) and
/// the same store in process see each other's writes at once, `stat` on
/// either side follows the kernel's writes, and the last close compresses
/// what the kernel wrote.
#[test]
fn in_process_access_to_a_passed_through_file_stays_coherent() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let Some(m) = Mount::new("passthrough-coherence") else {
        return;
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(m.path("f"))
        .unwrap();
    f.write_all(&vec![b'k'; 300_000]).unwrap();
    // The kernel's writes, seen in process while the file is open.
    let fd = m.fs.open("/f", libc::O_RDWR, 0).unwrap();
    assert_eq!(m.fs.fstat(fd).unwrap().size, 300_000);
    let mut buf = [0u8; 4];
    assert_eq!(m.fs.pread(fd, &mut buf, 299_996).unwrap(), 4);
    assert_eq!(&buf, b"kkkk");
    // The store's writes, seen through the kernel's open file.
    m.fs.pwrite(fd, b"STORE", 10).unwrap();
    f.seek(SeekFrom::Start(10)).unwrap();
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"STOR");
    m.fs.close(fd).unwrap();
    drop(f);
    // The kernel sends RELEASE after close(2) returns.
    let start = std::time::Instant::now();
    while m.fs.stats().open_fds > 0 && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    m.fs.settle();
    let data = m.fs.read_file("/f").unwrap();
    assert_eq!(
        (data.len(), &data[10..15], data[0]),
        (300_000, &b"STORE"[..], b'k')
    );
    assert!(
        m.fs.stat("/f").unwrap().blocks * 512 < 300_000,
        "compressed"
    );
    assert_eq!(std::fs::read(m.path("f")).unwrap(), data);
}
