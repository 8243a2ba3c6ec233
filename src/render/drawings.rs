//! Drawing tools anchored in (time, price): horizontal line, trend line, rectangle, Fibonacci retracement and
//! long/short position boxes. Times (not bar indices) anchor them, so they stay put when the timeframe changes.

use serde::{Deserialize, Serialize};

use super::{
    camera::Viewport,
    scene::{Align, ChartTheme, Label, OverlayInstance, Rgba},
};

/// A point of a drawing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anchor {
    /// UTC time in nanoseconds.
    pub ts_nanos: i64,
    /// Price.
    pub price: f64,
}

/// The kinds of drawing tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawingKind {
    /// A horizontal line at `a.price` across the chart.
    HorizontalLine,
    /// A segment from `a` to `b`.
    TrendLine,
    /// A box with corners `a` and `b`.
    Rectangle,
    /// Retracement levels between `a` (0 %) and `b` (100 %).
    Fibonacci,
    /// A long position: entry `a.price`, target `b.price`, stop `stop`, from `a` to `b` in time.
    LongPosition,
    /// A short position, as the long one.
    ShortPosition,
}

impl DrawingKind {
    /// Every kind, in toolbar order.
    pub const ALL: [Self; 6] = [
        Self::HorizontalLine,
        Self::TrendLine,
        Self::Rectangle,
        Self::Fibonacci,
        Self::LongPosition,
        Self::ShortPosition,
    ];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Self::HorizontalLine => "Horizontal line",
            Self::TrendLine => "Trend line",
            Self::Rectangle => "Rectangle",
            Self::Fibonacci => "Fib retracement",
            Self::LongPosition => "Long position",
            Self::ShortPosition => "Short position",
        }
    }
}

/// Fibonacci retracement levels.
pub const FIB_LEVELS: [f64; 7] = [0.0, 0.236, 0.382, 0.5, 0.618, 0.786, 1.0];

/// One drawing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Drawing {
    /// Tool.
    pub kind: DrawingKind,
    /// First anchor.
    pub a: Anchor,
    /// Second anchor (equal to `a` for a horizontal line).
    pub b: Anchor,
    /// Stop price of position boxes (unused otherwise).
    #[serde(default)]
    pub stop: f64,
}

/// The bar position of time `t`: fractional between the bars around it, extrapolated with the median bar
/// spacing beyond either end.
pub fn bar_position(ts_nanos: &[i64], t: i64) -> f64 {
    let n = ts_nanos.len();
    if n == 0 {
        return 0.0;
    }
    let step = if n >= 2 { ((ts_nanos[n - 1] - ts_nanos[0]) as f64 / (n - 1) as f64).max(1.0) } else { 1.0 };
    let i = ts_nanos.partition_point(|&x| x < t);
    if i == 0 {
        return (t - ts_nanos[0]) as f64 / step;
    }
    if i == n {
        return (n - 1) as f64 + (t - ts_nanos[n - 1]) as f64 / step;
    }
    let (t0, t1) = (ts_nanos[i - 1], ts_nanos[i]);
    (i - 1) as f64 + (t - t0) as f64 / (t1 - t0).max(1) as f64
}

/// The time at bar position `x` (the inverse of [`bar_position`]).
pub fn time_at(ts_nanos: &[i64], x: f64) -> i64 {
    let n = ts_nanos.len();
    if n == 0 || !x.is_finite() {
        return 0;
    }
    let step = if n >= 2 { ((ts_nanos[n - 1] - ts_nanos[0]) as f64 / (n - 1) as f64).max(1.0) } else { 1.0 };
    if x <= 0.0 {
        return ts_nanos[0] + (x * step) as i64;
    }
    if x >= (n - 1) as f64 {
        return ts_nanos[n - 1] + ((x - (n - 1) as f64) * step) as i64;
    }
    let i = x.floor() as usize;
    let f = x - i as f64;
    ts_nanos[i] + (f * (ts_nanos[i + 1] - ts_nanos[i]) as f64) as i64
}

fn with_alpha(c: Rgba, a: f32) -> Rgba {
    [c[0], c[1], c[2], a]
}

impl Drawing {
    /// A drawing of `kind` from `a` to `b`; position boxes get a stop mirroring the target.
    pub fn new(kind: DrawingKind, a: Anchor, b: Anchor) -> Self {
        let stop = a.price - (b.price - a.price) * 0.5;
        let b = if kind == DrawingKind::HorizontalLine { a } else { b };
        Self { kind, a, b, stop }
    }

    /// Moves every anchor by `dx_nanos` and `dprice`.
    pub fn translate(&mut self, dx_nanos: i64, dprice: f64) {
        for p in [&mut self.a, &mut self.b] {
            p.ts_nanos += dx_nanos;
            p.price += dprice;
        }
        self.stop += dprice;
    }

    /// Distance in pixels from screen point `(x, y)` to the drawing's outline.
    pub fn distance_px(&self, vp: &Viewport, ts_nanos: &[i64], x: f64, y: f64) -> f64 {
        let [ax, ay] = vp.screen_from_chart(bar_position(ts_nanos, self.a.ts_nanos), self.a.price);
        let [bx, by] = vp.screen_from_chart(bar_position(ts_nanos, self.b.ts_nanos), self.b.price);
        let seg = |x0: f64, y0: f64, x1: f64, y1: f64| {
            let (dx, dy) = (x1 - x0, y1 - y0);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 { (((x - x0) * dx + (y - y0) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            ((x - x0 - t * dx).powi(2) + (y - y0 - t * dy).powi(2)).sqrt()
        };
        match self.kind {
            DrawingKind::HorizontalLine => (y - ay).abs(),
            DrawingKind::TrendLine => seg(ax, ay, bx, by),
            DrawingKind::Rectangle
            | DrawingKind::Fibonacci
            | DrawingKind::LongPosition
            | DrawingKind::ShortPosition => {
                let (x0, x1) = (ax.min(bx), ax.max(bx));
                let sy = vp.screen_y(self.stop);
                let (y0, y1) = match self.kind {
                    DrawingKind::LongPosition | DrawingKind::ShortPosition => (ay.min(by).min(sy), ay.max(by).max(sy)),
                    _ => (ay.min(by), ay.max(by)),
                };
                if x >= x0 && x <= x1 && y >= y0 && y <= y1 {
                    0.0
                } else {
                    let dx = (x0 - x).max(x - x1).max(0.0);
                    let dy = (y0 - y).max(y - y1).max(0.0);
                    (dx * dx + dy * dy).sqrt()
                }
            }
        }
    }

    /// The drawing's overlay instances and labels on the price pane `vp` (in the selection colour when
    /// `selected`).
    pub fn overlay(
        &self,
        vp: &Viewport,
        ts_nanos: &[i64],
        theme: &ChartTheme,
        selected: bool,
        digits: usize,
    ) -> (Vec<OverlayInstance>, Vec<Label>) {
        let color = if selected { theme.selected } else { theme.drawing };
        let (mut out, mut labels) = (Vec::new(), Vec::new());
        let p = |a: &Anchor| {
            let [x, y] = vp.screen_from_chart(bar_position(ts_nanos, a.ts_nanos), a.price);
            [x as f32, y as f32]
        };
        let (a, b) = (p(&self.a), p(&self.b));
        let (left, right) = (vp.rect.x, vp.rect.right());
        let label = |text: String, pos: [f32; 2], color: Rgba| Label {
            text,
            pos,
            align: Align::Left,
            color,
            background: None,
            strong: false,
        };
        match self.kind {
            DrawingKind::HorizontalLine => {
                out.push(OverlayInstance::segment([left, a[1]], [right, a[1]], 1.5, color, false));
                labels.push(label(format!("{:.digits$}", self.a.price), [left + 4.0, a[1] - 8.0], color));
            }
            DrawingKind::TrendLine => out.push(OverlayInstance::segment(a, b, 2.0, color, false)),
            DrawingKind::Rectangle => {
                out.push(OverlayInstance::rect(a[0], a[1], b[0], b[1], with_alpha(color, 0.15)));
                for (p0, p1) in [
                    ([a[0], a[1]], [b[0], a[1]]),
                    ([b[0], a[1]], [b[0], b[1]]),
                    ([b[0], b[1]], [a[0], b[1]]),
                    ([a[0], b[1]], [a[0], a[1]]),
                ] {
                    out.push(OverlayInstance::segment(p0, p1, 1.5, color, false));
                }
            }
            DrawingKind::Fibonacci => {
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]).max(a[0].min(b[0]) + 1.0));
                for level in FIB_LEVELS {
                    let price = self.b.price + (self.a.price - self.b.price) * level;
                    let y = vp.screen_y(price) as f32;
                    out.push(OverlayInstance::segment([x0, y], [x1, y], 1.0, color, level != 0.0 && level != 1.0));
                    labels.push(label(format!("{level} ({price:.digits$})"), [x0 + 4.0, y - 8.0], color));
                }
                out.push(OverlayInstance::segment(a, b, 1.0, with_alpha(color, 0.5), true));
            }
            DrawingKind::LongPosition | DrawingKind::ShortPosition => {
                let stop_y = vp.screen_y(self.stop) as f32;
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]).max(a[0].min(b[0]) + 1.0));
                out.push(OverlayInstance::rect(x0, a[1], x1, b[1], with_alpha(theme.up, 0.25)));
                out.push(OverlayInstance::rect(x0, a[1], x1, stop_y, with_alpha(theme.down, 0.25)));
                out.push(OverlayInstance::segment([x0, a[1]], [x1, a[1]], 1.5, color, false));
                let risk = (self.a.price - self.stop).abs();
                let reward = (self.b.price - self.a.price).abs();
                let ratio = if risk > 0.0 { reward / risk } else { 0.0 };
                let pct = |p: f64| if self.a.price > 0.0 { (p / self.a.price - 1.0) * 100.0 } else { 0.0 };
                labels.push(label(
                    format!("Target {:.digits$} ({:+.2}%)  R:R {ratio:.2}", self.b.price, pct(self.b.price)),
                    [x0 + 4.0, b[1] + if b[1] < a[1] { 8.0 } else { -8.0 }],
                    theme.up,
                ));
                labels.push(label(
                    format!("Stop {:.digits$} ({:+.2}%)", self.stop, pct(self.stop)),
                    [x0 + 4.0, stop_y + if stop_y > a[1] { -8.0 } else { 8.0 }],
                    theme.down,
                ));
            }
        }
        (out, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_bar_positions_round_trip() {
        let ts: Vec<i64> = vec![0, 60, 120, 300, 360];
        for x in [-3.0, 0.0, 0.5, 2.25, 3.0, 4.0, 7.5] {
            let t = time_at(&ts, x);
            assert!((bar_position(&ts, t) - x).abs() < 1e-9, "{x} -> {t}");
        }
        assert_eq!(bar_position(&ts, 210), 2.5);
        assert_eq!(time_at(&[], 1.0), 0);
    }

    #[test]
    fn drawings_serialise_and_hit_test() {
        let d = Drawing::new(
            DrawingKind::LongPosition,
            Anchor { ts_nanos: 60, price: 1.1 },
            Anchor { ts_nanos: 300, price: 1.2 },
        );
        assert!((d.stop - 1.05).abs() < 1e-12);
        let json = serde_json::to_string(&d).unwrap_or_default();
        assert!(json.contains("\"long_position\""), "{json}");
        let back: Drawing = serde_json::from_str(&json).unwrap_or(Drawing::new(DrawingKind::TrendLine, d.a, d.a));
        assert_eq!(back, d);
        let vp = Viewport {
            rect: super::super::camera::PxRect::new(0.0, 0.0, 500.0, 500.0),
            x_min: -0.5,
            x_max: 4.5,
            y_min: 1.0,
            y_max: 1.25,
            scale: super::super::camera::PriceScale::Linear,
        };
        let ts = [0, 60, 120, 300, 360];
        let [x, y] = vp.screen_from_chart(2.0, 1.15);
        assert_eq!(d.distance_px(&vp, &ts, x, y), 0.0);
        let [x, y] = vp.screen_from_chart(2.0, 1.24);
        assert!(d.distance_px(&vp, &ts, x, y) > 10.0);
    }
}
