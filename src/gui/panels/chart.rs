//! The Chart panel: candlesticks of the loaded bars with egui_plot (until the wgpu chart renderer lands).
//!
//! The x axis is the bar index, as on TradingView: closed-market hours take no space, and every candle has
//! the same width. Axis labels and the crosshair legend map the index back to the bar's time.

use egui_plot::{BoxElem, BoxPlot, BoxSpread, Plot, PlotPoint};

use crate::{domain::Bars, gui::theme, ingest::LoadedBars};

/// Most candles drawn per frame; beyond that neighbouring bars are merged (keeping every high and low).
const MAX_CANDLES: usize = 2_000;
/// Bars shown when a dataset is first opened.
const INITIAL_BARS: usize = 300;

/// State of the chart panel.
#[derive(Debug, Default)]
pub struct ChartPanel {
    /// Set when a new dataset arrives so the view jumps to its latest bars.
    pub reset_view: bool,
}

/// Formats the time of the bar nearest to x (a bar index) at a resolution suited to the visible span.
pub fn format_time_axis(bars: &Bars, x: f64, span_bars: f64) -> String {
    let Some(ts) = nearest_index(bars, x).and_then(|i| bars.ts_nanos().get(i).copied()) else {
        return String::new();
    };
    let span_secs = span_bars * bars.median_step_secs();
    let dt = chrono::DateTime::from_timestamp_nanos(ts);
    if span_secs > 180.0 * 86_400.0 {
        dt.format("%Y-%m").to_string()
    } else if span_secs > 10.0 * 86_400.0 {
        dt.format("%Y-%m-%d").to_string()
    } else {
        dt.format("%m-%d %H:%M").to_string()
    }
}

fn nearest_index(bars: &Bars, x: f64) -> Option<usize> {
    let last = bars.len().checked_sub(1)?;
    (x.is_finite() && x >= -0.5 && x <= last as f64 + 0.5).then(|| x.round().clamp(0.0, last as f64) as usize)
}

/// The candles for bars `[start, end)`, merging groups of bars when there are more than [`MAX_CANDLES`].
pub fn candles(bars: &Bars, start: usize, end: usize) -> Vec<BoxElem> {
    let end = end.min(bars.len());
    let start = start.min(end);
    let group = (end - start).div_ceil(MAX_CANDLES).max(1);
    let (open, high, low, close) = (bars.open(), bars.high(), bars.low(), bars.close());
    let mut out = Vec::with_capacity((end - start) / group + 1);
    let mut i = start;
    while i < end {
        let j = (i + group).min(end);
        let hi = high[i..j].iter().copied().fold(f64::MIN, f64::max);
        let lo = low[i..j].iter().copied().fold(f64::MAX, f64::min);
        let (o, c) = (open[i], close[j - 1]);
        let color = if c >= o { theme::CANDLE_UP } else { theme::CANDLE_DOWN };
        let x = 0.5 * (i + j - 1) as f64;
        out.push(
            BoxElem::new(x, BoxSpread::new(lo, o.min(c), c, o.max(c), hi))
                .box_width(group as f64 * 0.7)
                .whisker_width(0.0)
                .fill(color)
                .stroke(egui::Stroke::new(1.0, color)),
        );
        i = j;
    }
    out
}

impl ChartPanel {
    /// Draws the panel.
    pub fn ui(&mut self, ui: &mut egui::Ui, dataset: Option<&LoadedBars>) {
        let Some(data) = dataset else {
            ui.centered_and_justified(|ui| ui.label("No data loaded. File > Open, or drop a CSV/Parquet file here."));
            return;
        };
        let bars = &data.bars;
        let n = bars.len();
        let Some(last) = bars.get(n.saturating_sub(1)) else { return };
        let digits = data.price_digits();
        ui.horizontal(|ui| {
            ui.strong(data.symbol.as_deref().unwrap_or("?"));
            ui.label(data.timeframe.map(|t| t.to_string()).unwrap_or_default());
            ui.separator();
            ui.label(format!(
                "O {:.d$}  H {:.d$}  L {:.d$}  C {:.d$}",
                last.open,
                last.high,
                last.low,
                last.close,
                d = digits
            ));
            ui.separator();
            ui.weak(format!("{n} bars"));
        });
        let mut plot = Plot::new("chart_plot")
            .allow_boxed_zoom(false)
            .auto_bounds(egui::Vec2b::new(false, true))
            .x_axis_formatter(|mark, range| format_time_axis(bars, mark.value, range.end() - range.start()))
            .y_axis_formatter(move |mark, _| format!("{:.d$}", mark.value, d = digits))
            .label_formatter(move |hover| {
                let pos = match hover {
                    egui_plot::HoverPosition::NearDataPoint { position, .. } => *position,
                    egui_plot::HoverPosition::Elsewhere { position } => *position,
                };
                hover_label(bars, pos, digits)
            });
        if self.reset_view {
            let first = n.saturating_sub(INITIAL_BARS);
            plot = plot.reset().default_x_bounds(first as f64 - 1.0, n as f64 + 2.0);
            self.reset_view = false;
        }
        plot.show(ui, |plot_ui| {
            let b = plot_ui.plot_bounds();
            let start = b.min()[0].floor().max(0.0) as usize;
            let end = (b.max()[0].ceil().max(0.0) as usize).saturating_add(1).min(n);
            let (start, end) = if end <= start { (n.saturating_sub(INITIAL_BARS), n) } else { (start, end) };
            plot_ui.box_plot(
                BoxPlot::new("bars", candles(bars, start, end)).element_formatter(Box::new(|_, _| String::new())),
            );
        });
    }
}

fn hover_label(bars: &Bars, pos: PlotPoint, digits: usize) -> Option<String> {
    let bar = bars.get(nearest_index(bars, pos.x)?)?;
    let time = chrono::DateTime::from_timestamp_nanos(bar.ts_nanos).format("%Y-%m-%d %H:%M");
    Some(format!(
        "{time}\nO {:.d$}  H {:.d$}\nL {:.d$}  C {:.d$}\nprice {:.d$}",
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        pos.y,
        d = digits
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NANOS_PER_SEC;

    fn minute_bars(n: usize) -> (Bars, Vec<f64>, Vec<f64>) {
        let ts: Vec<i64> = (0..n as i64).map(|i| i * 60 * NANOS_PER_SEC).collect();
        let low: Vec<f64> = (0..n).map(|i| 1.0 + (i % 97) as f64 * 0.001).collect();
        let high: Vec<f64> = low.iter().map(|l| l + 0.01).collect();
        (Bars::new(ts, low.clone(), high.clone(), low.clone(), high.clone(), vec![0.0; n]), low, high)
    }

    #[test]
    fn merged_candles_keep_every_high_and_low() {
        let n = 10_000;
        let (bars, low, high) = minute_bars(n);
        let elems = candles(&bars, 0, n);
        assert!(elems.len() <= MAX_CANDLES);
        let max_high = elems.iter().map(|e| e.spread.upper_whisker).fold(f64::MIN, f64::max);
        let min_low = elems.iter().map(|e| e.spread.lower_whisker).fold(f64::MAX, f64::min);
        assert_eq!(max_high, high.iter().copied().fold(f64::MIN, f64::max));
        assert_eq!(min_low, low.iter().copied().fold(f64::MAX, f64::min));
        let few = candles(&bars, 10, 20);
        assert_eq!(few.len(), 10);
        assert_eq!(few[0].argument, 10.0);
    }

    #[test]
    fn time_axis_maps_bar_indices_to_times() {
        let (bars, _, _) = minute_bars(100);
        assert_eq!(format_time_axis(&bars, 61.0, 60.0), "01-01 01:01");
        assert_eq!(format_time_axis(&bars, 61.0, 30.0 * 1_440.0), "1970-01-01");
        assert_eq!(format_time_axis(&bars, -5.0, 60.0), "");
        assert_eq!(format_time_axis(&bars, 150.0, 60.0), "");
    }
}
