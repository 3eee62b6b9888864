//! erm-alloc demo: a region grows from 1 KiB to 256 MiB and back, with the
//! resident size read from the kernel at each step and the internal copies counted.

use erm_alloc::{MemoryBudget, Region, resident_bytes};
use std::sync::Arc;

fn human(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn main() -> std::io::Result<()> {
    let budget = Arc::new(MemoryBudget::unlimited());
    let mut region = Region::new(&budget);
    let base = resident_bytes()?;
    println!(
        "{:>10}  {:>10}  {:>8}  {:>12}  {:>12}",
        "length", "capacity", "kind", "RSS delta", "copied"
    );
    let show = |region: &Region| -> std::io::Result<()> {
        println!(
            "{:>10}  {:>10}  {:>8}  {:>12}  {:>12}",
            human(region.len()),
            human(region.capacity()),
            format!("{:?}", region.kind()),
            human(resident_bytes()?.saturating_sub(base)),
            human(budget.copied_bytes() as usize),
        );
        Ok(())
    };
    let mut sizes: Vec<usize> = (10..=28).map(|shift| 1usize << shift).collect(); // 1 KiB .. 256 MiB
    for &len in &sizes {
        let old = region.len();
        region.resize(len)?;
        region.as_mut_slice()[old..].fill(0xA5); // write the new bytes, as a file write would
        show(&region)?;
    }
    sizes.reverse();
    for &len in sizes.iter().skip(1).chain(&[0]) {
        region.resize(len)?;
        show(&region)?;
    }
    println!(
        "\nGrowing to 256 MiB and back copied {} bytes inside erm-alloc: only the moves between\n\
         size-class slots and pages below 4 KiB; page growth and shrinking are mremap calls\n\
         that move no byte, and every page past the length went back to the OS at once.",
        budget.copied_bytes()
    );
    Ok(())
}
