//! A memfd region handed to another writer: its file is the content (size
//! equal to the length), and `sync` takes in the other writer's changes,
//! charging their pages even past the limit.

use erm_alloc::{MemoryBudget, Region, Synced, page_size};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

fn other_writer(region: &Region) -> File {
    let fd = region.memfd().expect("a memfd region has a file");
    File::from(fd.try_clone_to_owned().expect("dup"))
}

#[test]
fn the_file_is_the_content_for_another_reader() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut region = Region::new_memfd(&budget, "shared").expect("memfd");
    region.write_at(10, b"hello").expect("write");
    let file = other_writer(&region);
    assert_eq!(
        file.metadata().expect("fstat").len(),
        15,
        "size is the length"
    );
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).expect("read");
    assert_eq!(&buf[..n], b"\0\0\0\0\0\0\0\0\0\0hello");
    region.resize(3).expect("shrink");
    assert_eq!(file.metadata().expect("fstat").len(), 3);
    region.resize(100_000).expect("grow");
    assert_eq!(file.metadata().expect("fstat").len(), 100_000);
}

#[test]
fn sync_takes_in_another_writers_data_and_charges_it_past_the_limit() {
    let page = page_size();
    let budget = Arc::new(MemoryBudget::with_limit(2 * page));
    let mut region = Region::new_memfd(&budget, "shared").expect("memfd");
    region.write_at(0, b"mine").expect("write");
    assert_eq!(region.sync().map(|_| ()).ok(), Some(()));
    assert_eq!(
        region.sync().expect("sync"),
        Synced::default(),
        "nothing changed"
    );
    let file = other_writer(&region);
    // Four pages at 1 MiB: past the region's end and past the limit.
    file.write_all_at(&vec![7u8; 4 * page], 1 << 20)
        .expect("write");
    let moved = region.sync().expect("sync");
    assert!(
        moved.modified.is_some(),
        "another writer's write moves the mtime"
    );
    assert_eq!(region.len(), (1 << 20) + 4 * page);
    assert_eq!(region.data_bytes(), 5 * page);
    assert_eq!(budget.used(), 5 * page, "charged, forced past the limit");
    assert_eq!(&region.as_slice()[..4], b"mine");
    assert!(region.as_slice()[1 << 20..].iter().all(|&b| b == 7));
    assert_eq!(region.seek_data(page).expect("data"), 1 << 20);
    // The region is over its limit: its own growth is refused now.
    let err = region.write_at(8 * page, b"x").expect_err("full");
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    // Punching the other writer's pages gives the charge back.
    region
        .release(1 << 20..(1 << 20) + 4 * page)
        .expect("punch");
    assert_eq!(budget.used(), page);
    assert_eq!(file.metadata().expect("fstat").len(), region.len() as u64);
    drop(region);
    assert_eq!(budget.used(), 0);
}

#[test]
fn sync_of_an_anonymous_region_is_nothing() {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut region = Region::new(&budget);
    region.write_at(0, b"x").expect("write");
    assert_eq!(region.sync().expect("sync"), Synced::default());
}
