//! The bench table: columns as wide as the longest kernel name and shape of the run, so rows
//! line up whatever the names (`attention-tokenselect` is 21 characters).

use squeeze_bench::{Bench, Row};

/// Column widths of one run's table.
pub struct Table {
    kernel: usize,
    shape: usize,
}

impl Table {
    /// Widths for the rows `benches` will give.
    pub fn for_benches(benches: &[Bench]) -> Self {
        let width = |texts: &mut dyn Iterator<Item = &str>, title: &str| {
            texts
                .map(|t| t.chars().count())
                .fold(title.chars().count(), usize::max)
        };
        Self {
            kernel: width(&mut benches.iter().map(|b| b.kernel), "kernel"),
            shape: width(&mut benches.iter().map(|b| b.shape.as_str()), "shape"),
        }
    }

    pub fn header(&self) -> String {
        format!(
            "{:<kw$} {:<sw$} {:>10} {:>14} {:>8} {:>9}  {:<13} {:>8}",
            "kernel",
            "shape",
            "time (µs)",
            "bytes moved",
            "GB/s",
            "× copy",
            "clock",
            "GFLOP/s",
            kw = self.kernel,
            sw = self.shape,
        )
    }

    pub fn row(&self, row: &Row) -> String {
        let line = format!(
            "{:<kw$} {:<sw$} {:>10.1} {:>14} {:>8.2} {:>9.3}  {:<13}",
            row.kernel,
            row.shape,
            row.seconds * 1e6,
            row.bytes_moved,
            row.gb_per_s,
            row.copy_fraction,
            row.clock,
            kw = self.kernel,
            sw = self.shape,
        );
        match row.gflop_per_s {
            Some(g) => format!("{line} {g:>8.1}"),
            None => line.trim_end().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Table;
    use squeeze_bench::{Bench, Row, Scope};

    fn bench(kernel: &'static str, shape: &str) -> Bench {
        Bench {
            family: "attention",
            kernel,
            shape: shape.to_string(),
            scope: Scope::Default,
            prepare: Box::new(|_| Err(squeeze::Error::invalid("test", "bench", "unused", ""))),
        }
    }

    fn row(kernel: &str, shape: &str) -> Row {
        Row {
            family: "attention".into(),
            kernel: kernel.into(),
            shape: shape.into(),
            seconds: 0.001,
            bytes_moved: 1 << 20,
            gb_per_s: 1.0,
            copy_fraction: 0.5,
            clock: "gpu-timestamp".into(),
            gflop_per_s: None,
        }
    }

    #[test]
    fn columns_line_up_for_long_kernel_names() {
        let long = ("attention-tokenselect", "ctx 32K × b1, budget 2K");
        let short = ("copy", "64 MiB → 64 MiB");
        let table = Table::for_benches(&[bench(short.0, short.1), bench(long.0, long.1)]);
        let (kw, sw) = (long.0.chars().count(), long.1.chars().count());
        let cut = |line: &str, from: usize, to: usize| {
            let text: String = line.chars().skip(from).take(to - from).collect();
            text.trim().to_string()
        };
        let lines = [
            (table.header(), ("kernel", "shape", "time (µs)")),
            (
                table.row(&row(short.0, short.1)),
                (short.0, short.1, "1000.0"),
            ),
            (table.row(&row(long.0, long.1)), (long.0, long.1, "1000.0")),
        ];
        for (line, (kernel, shape, time)) in lines {
            assert_eq!(cut(&line, 0, kw + 1), kernel, "{line}");
            assert_eq!(cut(&line, kw + 1, kw + sw + 2), shape, "{line}");
            assert_eq!(cut(&line, kw + sw + 2, kw + sw + 13), time, "{line}");
        }
    }
}
