//! The Chart panel: candlesticks of the loaded bars with egui_plot (until the wgpu chart renderer lands),
//! indicator overlays, oscillator panes on the same time axis, and pattern markers with their tooltips.
//!
//! The x axis is the bar index, as on TradingView: closed-market hours take no space, and every candle has
//! the same width. Axis labels and the crosshair legend map the index back to the bar's time.

use egui_plot::{
    Bar, BarChart, BoxElem, BoxPlot, BoxSpread, HLine, Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points, Text,
};

use crate::{
    domain::Bars,
    gui::{
        studies::{Placement, Studies, StudySettings, placement},
        theme,
    },
    indicators::{Column, IndicatorSpec},
    ingest::LoadedBars,
    patterns::candles::CandlePattern,
};

/// Most candles drawn per frame; beyond that neighbouring bars are merged (keeping every high and low).
const MAX_CANDLES: usize = 2_000;
/// Bars shown when a dataset is first opened.
const INITIAL_BARS: usize = 300;

/// State of the chart panel.
#[derive(Debug, Default)]
pub struct ChartPanel {
    /// Set when a new dataset arrives so the view jumps to its latest bars.
    pub reset_view: bool,
    /// Bars `[from, to]` to bring into view on the next frame (a pattern picked in the Patterns panel).
    pub focus: Option<(usize, usize)>,
    /// Trades of the last backtest, drawn as entry and exit markers joined by a line.
    pub trades: Vec<TradeMarker>,
}

/// One backtest trade on the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeMarker {
    /// Bar of the entry fill.
    pub entry_bar: usize,
    /// Bar of the exit fill.
    pub exit_bar: usize,
    /// Entry price.
    pub entry_price: f64,
    /// Exit price.
    pub exit_price: f64,
    /// Long (else short).
    pub long: bool,
    /// Closed with a profit.
    pub profit: bool,
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

/// Height of one indicator pane in points.
const PANE_HEIGHT: f32 = 110.0;
/// Candlestick markers are drawn when at most this many bars are visible (the tooltip always lists them).
const MAX_MARKER_BARS: usize = 600;
/// Most points per indicator line drawn per frame; longer visible ranges are sampled.
const MAX_LINE_POINTS: usize = 4_000;

impl ChartPanel {
    /// Draws the panel: candles with overlays, pattern markers and chart patterns, then one pane per oscillator,
    /// all sharing the bar-index axis.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&LoadedBars>,
        studies: Option<&Studies>,
        settings: &StudySettings,
    ) {
        let Some(data) = dataset else {
            ui.centered_and_justified(|ui| ui.label("No data loaded. File > Open, or drop a CSV/Parquet file here."));
            return;
        };
        let bars = &data.bars;
        let n = bars.len();
        let Some(last) = bars.get(n.saturating_sub(1)) else { return };
        // Studies of another dataset (a newer load) are not drawn.
        let studies = studies.filter(|s| s.bars == n);
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
            if let Some(chart) = studies.and_then(|s| s.chart.as_ref()) {
                ui.separator();
                ui.weak(format!("regime {}, volatility {}", chart.regime.regime.name(), chart.volatility.state.name()));
            }
        });
        let panes: Vec<&(IndicatorSpec, Vec<Column>)> = studies
            .map(|s| s.indicators.iter().filter(|(spec, _)| placement(spec) == Placement::Pane).collect())
            .unwrap_or_default();
        let link = egui::Id::unique("aio_chart_time_axis");
        let main_height = (ui.available_height() - panes.len() as f32 * (PANE_HEIGHT + 4.0)).max(150.0);
        let mut plot = Plot::new("chart_plot")
            .height(main_height)
            .allow_boxed_zoom(false)
            .auto_bounds(egui::Vec2b::new(false, true))
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .x_axis_formatter(|mark, range| format_time_axis(bars, mark.value, range.end() - range.start()))
            .y_axis_formatter(move |mark, _| format!("{:.d$}", mark.value, d = digits))
            .label_formatter(move |hover| {
                let pos = match hover {
                    egui_plot::HoverPosition::NearDataPoint { position, .. } => *position,
                    egui_plot::HoverPosition::Elsewhere { position } => *position,
                };
                hover_label(bars, studies, pos, digits)
            });
        if self.reset_view {
            let first = n.saturating_sub(INITIAL_BARS);
            plot = plot.reset().default_x_bounds(first as f64 - 1.0, n as f64 + 2.0);
            self.reset_view = false;
        }
        if let Some((from, to)) = self.focus.take() {
            let margin = ((to - from) / 2).max(20) as f64;
            plot = plot.reset().default_x_bounds(from as f64 - margin, to as f64 + margin);
        }
        plot.show(ui, |plot_ui| {
            let b = plot_ui.plot_bounds();
            let (start, end) = visible_range(n, b.min()[0], b.max()[0]);
            plot_ui.box_plot(
                BoxPlot::new("bars", candles(bars, start, end)).element_formatter(Box::new(|_, _| String::new())),
            );
            trades_ui(plot_ui, &self.trades, start, end, n);
            let Some(studies) = studies else { return };
            for (spec, columns) in studies.indicators.iter().filter(|(spec, _)| placement(spec) == Placement::Overlay) {
                for (k, column) in columns.iter().enumerate() {
                    let color = if matches!(spec, IndicatorSpec::Bb { .. }) {
                        theme::BANDS
                    } else {
                        theme::STUDY_LINES[k % theme::STUDY_LINES.len()]
                    };
                    plot_ui.line(
                        Line::new(column.name.clone(), line_points(&column.values, start, end)).color(color).width(1.2),
                    );
                }
            }
            if settings.candle_markers && end - start <= MAX_MARKER_BARS {
                let (bull, bear) = marker_points(bars, studies, start, end);
                plot_ui.points(
                    Points::new("bullish patterns", bull)
                        .shape(MarkerShape::Up)
                        .radius(4.0)
                        .color(theme::BULLISH)
                        .filled(true),
                );
                plot_ui.points(
                    Points::new("bearish patterns", bear)
                        .shape(MarkerShape::Down)
                        .radius(4.0)
                        .color(theme::BEARISH)
                        .filled(true),
                );
            }
            if settings.chart_patterns
                && let Some(chart) = &studies.chart
            {
                for p in chart.patterns.iter().filter(|p| p.end >= start && p.start < end) {
                    let pivots: Vec<[f64; 2]> = p.pivots.iter().map(|s| [s.index as f64, s.price]).collect();
                    plot_ui.line(Line::new(p.kind.name(), pivots).color(theme::CHART_PATTERN).width(2.0));
                    if let Some(top) = p.pivots.iter().map(|s| s.price).reduce(f64::max) {
                        let label = format!(
                            "{} {:.2}{}",
                            p.kind.name().replace('_', " "),
                            p.strength,
                            if p.confirmed { "" } else { " (forming)" }
                        );
                        plot_ui.text(
                            Text::new(p.kind.name(), PlotPoint::new(p.start as f64, top), label)
                                .color(theme::CHART_PATTERN)
                                .anchor(egui::Align2::LEFT_BOTTOM),
                        );
                    }
                }
            }
        });
        for (spec, columns) in panes {
            ui.add_space(4.0);
            pane_ui(ui, link, bars, spec, columns);
        }
    }
}

/// Entry arrows (up for longs, down for shorts), exit diamonds and a line between them, green for winners and
/// red for losers, for the trades overlapping the visible bars (at most a few hundred).
fn trades_ui(plot_ui: &mut egui_plot::PlotUi<'_>, trades: &[TradeMarker], start: usize, end: usize, n: usize) {
    let visible: Vec<&TradeMarker> =
        trades.iter().filter(|t| t.exit_bar >= start && t.entry_bar < end && t.exit_bar < n).take(400).collect();
    if visible.is_empty() {
        return;
    }
    let (mut long_entries, mut short_entries, mut exits) = (Vec::new(), Vec::new(), Vec::new());
    for t in &visible {
        let entry = [t.entry_bar as f64, t.entry_price];
        if t.long {
            long_entries.push(entry)
        } else {
            short_entries.push(entry)
        }
        exits.push([t.exit_bar as f64, t.exit_price]);
        let color = if t.profit { theme::BULLISH } else { theme::BEARISH };
        plot_ui.line(Line::new("trades", vec![entry, [t.exit_bar as f64, t.exit_price]]).color(color).width(1.5));
    }
    plot_ui.points(
        Points::new("long entries", long_entries).shape(MarkerShape::Up).radius(6.0).color(theme::BULLISH).filled(true),
    );
    plot_ui.points(
        Points::new("short entries", short_entries)
            .shape(MarkerShape::Down)
            .radius(6.0)
            .color(theme::BEARISH)
            .filled(true),
    );
    plot_ui
        .points(Points::new("exits", exits).shape(MarkerShape::Diamond).radius(5.0).color(theme::GUIDE).filled(true));
}

/// The bars `[start, end)` between plot x bounds, or the latest bars when the bounds are empty.
fn visible_range(n: usize, min_x: f64, max_x: f64) -> (usize, usize) {
    let start = min_x.floor().max(0.0) as usize;
    let end = (max_x.ceil().max(0.0) as usize).saturating_add(1).min(n);
    if end <= start { (n.saturating_sub(INITIAL_BARS), n) } else { (start.min(n), end) }
}

/// Points of one indicator column in `[start, end)`, skipping warm-up values and sampling long ranges.
pub fn line_points(values: &[f64], start: usize, end: usize) -> PlotPoints<'static> {
    let end = end.min(values.len());
    let start = start.min(end);
    let step = (end - start).div_ceil(MAX_LINE_POINTS).max(1);
    (start..end)
        .step_by(step)
        .filter(|&i| values[i].is_finite())
        .map(|i| [i as f64, values[i]])
        .collect::<Vec<_>>()
        .into()
}

/// Bullish markers below the lows and bearish markers above the highs of directional candlestick patterns.
fn marker_points(bars: &Bars, studies: &Studies, start: usize, end: usize) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let (high, low) = (bars.high(), bars.low());
    let span = (start..end).map(|i| high[i] - low[i]).sum::<f64>() / (end - start).max(1) as f64;
    let (mut bull, mut bear) = (Vec::new(), Vec::new());
    for i in start..end {
        let markers = studies.markers_at(i);
        let directional = |m: &&crate::gui::studies::CandleMarker| {
            !matches!(m.pattern, CandlePattern::Doji | CandlePattern::SpinningTop)
        };
        if markers.iter().filter(directional).any(|m| m.value > 0) {
            bull.push([i as f64, low[i] - span * 0.6]);
        }
        if markers.iter().filter(directional).any(|m| m.value < 0) {
            bear.push([i as f64, high[i] + span * 0.6]);
        }
    }
    (bull, bear)
}

/// One oscillator pane under the chart.
fn pane_ui(ui: &mut egui::Ui, link: egui::Id, bars: &Bars, spec: &IndicatorSpec, columns: &[Column]) {
    let n = bars.len();
    let mut plot = Plot::new(("chart_pane", spec.to_string()))
        .height(PANE_HEIGHT)
        .allow_boxed_zoom(false)
        .allow_zoom([true, false])
        .allow_drag([true, false])
        .auto_bounds(egui::Vec2b::new(false, true))
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .show_axes([false, true])
        .legend(egui_plot::Legend::default().position(egui_plot::Corner::LeftTop))
        .x_axis_formatter(|mark, range| format_time_axis(bars, mark.value, range.end() - range.start()));
    let guides: &[f64] = match spec {
        IndicatorSpec::Rsi { .. } => &[30.0, 70.0],
        IndicatorSpec::Stoch { .. } => &[20.0, 80.0],
        IndicatorSpec::Adx { .. } => &[25.0],
        _ => &[],
    };
    if !guides.is_empty() {
        plot = plot.include_y(0.0).include_y(100.0);
    }
    plot.show(ui, |plot_ui| {
        let b = plot_ui.plot_bounds();
        let (start, end) = visible_range(n, b.min()[0], b.max()[0]);
        for &g in guides {
            plot_ui.hline(HLine::new("", g).color(theme::GUIDE).style(egui_plot::LineStyle::dashed_dense()));
        }
        for (k, column) in columns.iter().enumerate() {
            if matches!(spec, IndicatorSpec::Macd { .. }) && k == 2 {
                let step = (end - start).div_ceil(MAX_LINE_POINTS / 4).max(1);
                let bars_hist: Vec<Bar> = (start..end.min(column.values.len()))
                    .step_by(step)
                    .filter(|&i| column.values[i].is_finite())
                    .map(|i| {
                        let v = column.values[i];
                        Bar::new(i as f64, v).width(step as f64 * 0.8).fill(if v >= 0.0 {
                            theme::HIST_UP
                        } else {
                            theme::HIST_DOWN
                        })
                    })
                    .collect();
                plot_ui.bar_chart(
                    BarChart::new(column.name.clone(), bars_hist).element_formatter(Box::new(|_, _| String::new())),
                );
            } else {
                plot_ui.line(
                    Line::new(column.name.clone(), line_points(&column.values, start, end))
                        .color(theme::STUDY_LINES[k % theme::STUDY_LINES.len()])
                        .width(1.2),
                );
            }
        }
    });
}

/// The crosshair legend: the bar's time and OHLC, the price under the cursor, and the patterns on that bar.
fn hover_label(bars: &Bars, studies: Option<&Studies>, pos: PlotPoint, digits: usize) -> Option<String> {
    let index = nearest_index(bars, pos.x)?;
    let bar = bars.get(index)?;
    let time = chrono::DateTime::from_timestamp_nanos(bar.ts_nanos).format("%Y-%m-%d %H:%M");
    let mut text = format!(
        "{time}\nO {:.d$}  H {:.d$}\nL {:.d$}  C {:.d$}\nprice {:.d$}",
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        pos.y,
        d = digits
    );
    if let Some(studies) = studies {
        for m in studies.markers_at(index) {
            text.push_str(&format!("\n{} {:+}", m.pattern.name(), m.value));
        }
        if let Some(chart) = &studies.chart {
            for p in chart.patterns.iter().filter(|p| (p.start..=p.end).contains(&index)) {
                text.push_str(&format!("\n{} (strength {:.2})", p.kind.name(), p.strength));
            }
        }
    }
    Some(text)
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
