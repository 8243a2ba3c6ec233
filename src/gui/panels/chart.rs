//! The Chart panel: the wgpu chart renderer (`crate::render`) inside egui, with TradingView's interaction:
//! wheel zoom around the cursor, drag to pan, drag the price axis to scale, double-click to reset, keys
//! (←/→, +/−, Home/End, Delete, Esc), log and percentage scales, crosshair legend, drawing tools, and
//! "Export PNG" through the same offscreen renderer as `aio render`.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        mpsc::{Receiver, TryRecvError},
    },
};

use crate::{
    domain::Timeframe,
    gui::studies::{Studies, StudySettings},
    ingest::LoadedBars,
    patterns::candles::CandlePattern,
    render::{
        Anchor, Annotations, ChartData, ChartTheme, ChartView, Drawing, DrawingKind, FramePlan, LayoutStyle,
        OffscreenRenderer, PriceScale,
        drawings::time_at,
        egui_bridge, plan_frame,
        scene::{PatternOutline, TradeMark},
    },
};

/// One backtest trade on the chart.
pub type TradeMarker = TradeMark;

/// Colour theme choice of the chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChartThemeChoice {
    /// Dark or light with the workstation.
    #[default]
    FollowUi,
    /// Always dark.
    Dark,
    /// Always light.
    Light,
}

/// What a drag on the chart does, decided where it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DragMode {
    /// Pan time (and prices when not auto-fitting).
    Pan,
    /// Scale the price axis.
    ScalePrice,
    /// Move drawing `index`.
    MoveDrawing(usize),
}

/// State of the chart panel.
#[derive(Default)]
pub struct ChartPanel {
    /// Set when a new dataset arrives so the view jumps to its latest bars.
    pub reset_view: bool,
    /// Bars `[from, to]` to bring into view on the next frame (a pattern picked in the Patterns panel).
    pub focus: Option<(usize, usize)>,
    /// Trades of the last backtest, drawn as entry and exit markers joined by a line.
    pub trades: Vec<TradeMarker>,
    /// The view (visible bars, price range and scale).
    pub view: ChartView,
    /// Theme choice.
    pub theme: ChartThemeChoice,
    /// Drawings of the dataset on screen.
    pub drawings: Vec<Drawing>,
    /// The selected drawing.
    pub selected: Option<usize>,
    /// The drawing tool in use.
    pub tool: Option<DrawingKind>,
    pending_anchor: Option<Anchor>,
    drag: Option<DragMode>,
    data: Option<Arc<ChartData>>,
    data_source: (usize, usize, bool),
    last_plan: Option<Arc<FramePlan>>,
    /// [`ChartData::key`] of the data `last_plan` shows.
    last_plan_key: u64,
    export: Option<Receiver<Result<Option<PathBuf>, String>>>,
    /// The last export's outcome, shown in the toolbar.
    export_message: Option<String>,
    /// Set when the drawings changed (the app saves them in the library).
    pub drawings_changed: bool,
    /// A timeframe picked in the toolbar (`Some(None)`: back to the data as loaded); the app resamples.
    pub timeframe_request: Option<Option<Timeframe>>,
    /// The timeframe of the data as loaded (the switcher offers it and coarser ones).
    pub base_timeframe: Option<Timeframe>,
    /// Chart data being built on the `aio-chart` thread, with the source it is for.
    building: Option<((usize, usize, bool), Receiver<ChartData>)>,
    /// Set by the app when it placed the view for new (resampled) bars.
    pub keep_view: bool,
    /// Where the chart was drawn last, in points (None before the first frame).
    pub rect: Option<egui::Rect>,
}

impl ChartPanel {
    /// The chart data on screen, if any.
    pub fn data(&self) -> Option<&Arc<ChartData>> {
        self.data.as_ref()
    }

    /// True while a drag (pan, price scaling or moving a drawing) is in progress.
    pub fn is_dragging(&self) -> bool {
        self.drag.is_some()
    }

    /// The last frame drawn.
    pub fn last_plan(&self) -> Option<&FramePlan> {
        self.last_plan.as_deref()
    }

    fn theme(&self, ui: &egui::Ui) -> ChartTheme {
        match self.theme {
            ChartThemeChoice::Dark => ChartTheme::DARK,
            ChartThemeChoice::Light => ChartTheme::LIGHT,
            ChartThemeChoice::FollowUi if ui.visuals().dark_mode => ChartTheme::DARK,
            ChartThemeChoice::FollowUi => ChartTheme::LIGHT,
        }
    }

    /// Rebuilds the chart data when the dataset, the studies or the theme changed. Levels of detail are built
    /// here for small data and on the `aio-chart` thread above [`SYNC_BUILD_BARS`] bars (a 10M-bar chart
    /// takes seconds); the GPU upload follows in the paint callback.
    fn sync_data(
        &mut self,
        ctx: &egui::Context,
        data: &Arc<LoadedBars>,
        studies: Option<&Arc<Studies>>,
        theme: &ChartTheme,
        dark: bool,
    ) {
        let source = (Arc::as_ptr(data) as usize, studies.map_or(0, |s| Arc::as_ptr(s) as usize), dark);
        if let Some((key, rx)) = &self.building {
            match rx.try_recv() {
                Ok(built) => {
                    let key = *key;
                    self.building = None;
                    self.install_data(built, key);
                }
                Err(TryRecvError::Empty) if *key == source => return,
                Err(_) => self.building = None,
            }
        }
        if self.data.is_some() && self.data_source == source {
            return;
        }
        let title = format!(
            "{} · {}",
            data.symbol.as_deref().unwrap_or("?"),
            data.timeframe.map(|t| t.to_string()).unwrap_or_default()
        );
        let build = {
            let (data, studies, theme) = (Arc::clone(data), studies.cloned(), *theme);
            move || {
                // The chart keeps its own copy of the columns (the studies stay with the dataset).
                let indicators = studies.as_ref().map(|s| s.indicators.clone()).unwrap_or_default();
                ChartData::new(Arc::new(data.bars.clone()), indicators, title, data.price_digits(), &theme)
            }
        };
        if data.bars.len() <= SYNC_BUILD_BARS {
            self.install_data(build(), source);
            return;
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("aio-chart".into()).spawn(move || {
            let _ = tx.send(build());
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.building = Some((source, rx)),
            Err(err) => tracing::error!("cannot start the chart thread: {err}"),
        }
    }

    /// Puts freshly built chart data on screen; new bars (not a resampling) start at their latest bars.
    fn install_data(&mut self, built: ChartData, source: (usize, usize, bool)) {
        let same_bars = self.data_source.0 == source.0 || self.keep_view;
        self.keep_view = false;
        if !same_bars {
            self.view = ChartView::latest(built.bars.len());
            self.selected = None;
        }
        self.data = Some(Arc::new(built));
        self.data_source = source;
    }

    /// Draws the panel. `data` and `studies` are the app's current dataset and their studies.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        dataset: Option<&Arc<LoadedBars>>,
        studies: Option<&Arc<Studies>>,
        settings: &StudySettings,
    ) {
        let Some(dataset) = dataset else {
            ui.centered_and_justified(|ui| ui.label("No data loaded. File > Open, or drop a CSV/Parquet file here."));
            return;
        };
        let n = dataset.bars.len();
        // Studies of another dataset (a newer load) are not drawn.
        let studies = studies.filter(|s| s.bars == n);
        let theme = self.theme(ui);
        let dark = theme == ChartTheme::DARK;
        self.sync_data(ui.ctx(), dataset, studies, &theme, dark);
        // Until the chart of new bars is built, nothing of the old one is drawn (its bar indices differ).
        let Some(data) = self.data.clone().filter(|_| self.data_source.0 == Arc::as_ptr(dataset) as usize) else {
            ui.centered_and_justified(|ui| {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Preparing the chart of {n} bars…"));
                });
            });
            return;
        };
        if self.reset_view {
            self.view = ChartView::latest(n);
            self.reset_view = false;
        }
        if let Some((from, to)) = self.focus.take() {
            self.view.show_bars(from, to, n);
        }
        self.poll_export();
        self.toolbar_ui(ui, &data, &theme, dataset.timeframe);

        let (rect, response) = ui.allocate_exact_size(ui.available_size(), egui::Sense::click_and_drag());
        if rect.width() < 8.0 || rect.height() < 8.0 {
            return;
        }
        self.rect = Some(rect);
        let ppp = ui.ctx().pixels_per_point();
        let canvas = [rect.width() * ppp, rect.height() * ppp];
        let style = LayoutStyle::scaled(ppp);
        let to_px = |p: egui::Pos2| [(p.x - rect.min.x) * ppp, (p.y - rect.min.y) * ppp];
        let hover = response.hover_pos().map(to_px);
        let mut annotations = self.annotations(&data, studies.map(|s| s.as_ref()), settings);
        // Input is read against the frame on screen (the last one drawn, when it was of this data and size), then
        // the frame is planned with the new view.
        let before = match &self.last_plan {
            Some(plan) if plan.canvas == canvas && self.last_plan_key == data.key => Arc::clone(plan),
            _ => Arc::new(plan_frame(&data, &self.view, canvas, &theme, &annotations, &style)),
        };
        self.handle_input(ui, &response, &before, &data, hover, ppp);
        annotations.drawings.clone_from(&self.drawings);
        annotations.selected = self.selected;
        annotations.crosshair = hover;
        if let (Some(tool), Some(a), Some([x, y])) = (self.tool, self.pending_anchor, hover)
            && let Some(main) = before.panes.first()
        {
            // The drawing being placed follows the pointer.
            let [bx, price] = main.chart_from_screen(x as f64, y as f64);
            let b = Anchor { ts_nanos: time_at(data.bars.ts_nanos(), bx), price };
            annotations.drawings.push(Drawing::new(tool, a, b));
        }
        let plan = Arc::new(plan_frame(&data, &self.view, canvas, &theme, &annotations, &style));
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 0.0, egui_bridge::color32(theme.background));
        egui_bridge::paint_chart(&painter, rect, Arc::clone(&data), Arc::clone(&plan));
        egui_bridge::paint_labels(&painter, rect, &plan, ppp);
        if hover.is_some() {
            ui.ctx().set_cursor_icon(if self.tool.is_some() {
                egui::CursorIcon::Crosshair
            } else if matches!(self.drag, Some(DragMode::Pan)) {
                egui::CursorIcon::Grabbing
            } else if response.hover_pos().is_some_and(|p| plan.price_axis.contains(to_px(p)[0], to_px(p)[1])) {
                egui::CursorIcon::ResizeVertical
            } else {
                egui::CursorIcon::Crosshair
            });
        }
        self.last_plan = Some(plan);
        self.last_plan_key = data.key;
    }

    /// Candlestick markers, chart patterns and trades of the current studies.
    fn annotations(&self, data: &ChartData, studies: Option<&Studies>, settings: &StudySettings) -> Annotations {
        let mut a = Annotations { trades: self.trades.clone(), ..Default::default() };
        let Some(studies) = studies else { return a };
        if settings.candle_markers {
            let directional = |p: CandlePattern| !matches!(p, CandlePattern::Doji | CandlePattern::SpinningTop);
            a.markers = studies
                .markers
                .iter()
                .filter(|m| directional(m.pattern) && m.index < data.bars.len())
                .map(|m| (m.index, m.value > 0))
                .collect();
            a.markers.dedup();
        }
        if settings.chart_patterns
            && let Some(chart) = &studies.chart
        {
            a.patterns = chart
                .patterns
                .iter()
                .map(|p| PatternOutline {
                    pivots: p.pivots.iter().map(|s| (s.index, s.price)).collect(),
                    label: format!(
                        "{} {:.2}{}",
                        p.kind.name().replace('_', " "),
                        p.strength,
                        if p.confirmed { "" } else { " (forming)" }
                    ),
                })
                .collect();
        }
        a
    }

    /// The timeframe switcher: the data's own timeframe and the standard coarser ones.
    fn timeframe_ui(&mut self, ui: &mut egui::Ui, current: Option<Timeframe>) {
        let base = self.base_timeframe;
        let label = |t: Option<Timeframe>| t.map_or_else(|| "as loaded".to_owned(), |t| t.to_string());
        egui::ComboBox::new("chart_timeframe", "Timeframe").selected_text(label(current)).width(70.0).show_ui(
            ui,
            |ui| {
                if ui.selectable_label(current == base, format!("{} (as loaded)", label(base))).clicked() {
                    self.timeframe_request = Some(None);
                }
                for name in ["M1", "M5", "M15", "M30", "H1", "H4", "D1", "W1"] {
                    let Ok(tf) = name.parse::<Timeframe>() else { continue };
                    let coarser = base.is_none_or(|b| tf.approx_duration_nanos() > b.approx_duration_nanos());
                    if coarser && ui.selectable_label(current == Some(tf), name).clicked() {
                        self.timeframe_request = Some(Some(tf));
                    }
                }
            },
        );
    }

    fn toolbar_ui(
        &mut self,
        ui: &mut egui::Ui,
        data: &Arc<ChartData>,
        theme: &ChartTheme,
        current_timeframe: Option<Timeframe>,
    ) {
        let n = data.bars.len();
        ui.horizontal_wrapped(|ui| {
            ui.strong(&data.title);
            ui.weak(format!("{n} bars"));
            ui.separator();
            self.timeframe_ui(ui, current_timeframe);
            egui::ComboBox::new("chart_scale", "Scale")
                .selected_text(match self.view.scale {
                    PriceScale::Linear => "Linear",
                    PriceScale::Log => "Log",
                    PriceScale::Percent => "%",
                })
                .width(60.0)
                .show_ui(ui, |ui| {
                    for (scale, name) in
                        [(PriceScale::Linear, "Linear"), (PriceScale::Log, "Log"), (PriceScale::Percent, "%")]
                    {
                        if ui.selectable_value(&mut self.view.scale, scale, name).clicked() {
                            self.view.auto_fit = true;
                        }
                    }
                });
            ui.checkbox(&mut self.view.auto_fit, "Auto").on_hover_text("Fit prices to the visible bars");
            egui::ComboBox::new("chart_theme", "Theme")
                .selected_text(match self.theme {
                    ChartThemeChoice::FollowUi => "Auto",
                    ChartThemeChoice::Dark => "Dark",
                    ChartThemeChoice::Light => "Light",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.theme, ChartThemeChoice::FollowUi, "Auto");
                    ui.selectable_value(&mut self.theme, ChartThemeChoice::Dark, "Dark");
                    ui.selectable_value(&mut self.theme, ChartThemeChoice::Light, "Light");
                });
            if ui.button("Reset").on_hover_text("Latest bars, prices fitted (double-click)").clicked() {
                self.view = ChartView::latest(n);
            }
            if ui.button("All").on_hover_text("Every bar").clicked() {
                self.view = ChartView::fit_all(n);
            }
            ui.separator();
            for kind in DrawingKind::ALL {
                let on = self.tool == Some(kind);
                if ui.selectable_label(on, kind.name()).clicked() {
                    self.tool = if on { None } else { Some(kind) };
                    self.pending_anchor = None;
                }
            }
            if !self.drawings.is_empty() && ui.button("Clear drawings").clicked() {
                self.drawings.clear();
                self.selected = None;
                self.drawings_changed = true;
            }
            ui.separator();
            let exporting = self.export.is_some();
            if ui.add_enabled(!exporting, egui::Button::new("Export PNG…")).clicked() {
                self.start_export(ui.ctx().clone(), Arc::clone(data), *theme);
            }
            if exporting {
                ui.spinner();
            }
            if let Some(message) = &self.export_message {
                ui.weak(message);
            }
        });
    }

    fn handle_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        plan: &FramePlan,
        data: &ChartData,
        hover: Option<[f32; 2]>,
        ppp: f32,
    ) {
        let n = data.bars.len();
        let ts = data.bars.ts_nanos();
        let Some(main) = plan.panes.first().copied() else { return };
        let current = (self.view.scale.price_of(main.y_min), self.view.scale.price_of(main.y_max));
        if let Some([x, y]) = hover {
            let (scroll, zoom) = ui.input(|i| (i.smooth_scroll_delta, i.zoom_delta()));
            let factor = (-f64::from(scroll.y) * 0.0025).exp() / f64::from(zoom);
            if (factor - 1.0).abs() > 1e-6 {
                let anchor = main.chart_from_screen(f64::from(x.min(main.rect.right())), f64::from(y))[0];
                self.view.zoom_x(factor, anchor, n);
            }
            if scroll.x != 0.0 {
                self.view.pan_bars(-f64::from(scroll.x * ppp) / main.px_per_bar(), n);
            }
            let span = self.view.span_bars();
            ui.input(|i| {
                if i.key_pressed(egui::Key::ArrowLeft) {
                    self.view.pan_bars(-span * 0.1, n);
                }
                if i.key_pressed(egui::Key::ArrowRight) {
                    self.view.pan_bars(span * 0.1, n);
                }
                if i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals) {
                    self.view.zoom_x(0.8, self.view.x_max - RIGHT_KEEP * span, n);
                }
                if i.key_pressed(egui::Key::Minus) {
                    self.view.zoom_x(1.25, self.view.x_max - RIGHT_KEEP * span, n);
                }
                if i.key_pressed(egui::Key::Home) {
                    self.view.home(n);
                }
                if i.key_pressed(egui::Key::End) {
                    self.view.end(n);
                }
                if i.key_pressed(egui::Key::Escape) {
                    self.tool = None;
                    self.pending_anchor = None;
                    self.selected = None;
                }
                if (i.key_pressed(egui::Key::Delete) || i.key_pressed(egui::Key::Backspace))
                    && let Some(k) = self.selected.take()
                    && k < self.drawings.len()
                {
                    self.drawings.remove(k);
                    self.drawings_changed = true;
                }
            });
        }
        let pointer = response.interact_pointer_pos().map(|p| {
            let r = response.rect;
            [(p.x - r.min.x) * ppp, (p.y - r.min.y) * ppp]
        });
        let hit = |drawings: &[Drawing], [x, y]: [f32; 2]| {
            drawings
                .iter()
                .enumerate()
                .map(|(k, d)| (k, d.distance_px(&main, ts, f64::from(x), f64::from(y))))
                .filter(|(_, d)| *d <= 6.0 * f64::from(ppp))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k)
        };
        if response.drag_started()
            && let Some(p) = pointer
        {
            self.drag = Some(if plan.price_axis.contains(p[0], p[1]) {
                DragMode::ScalePrice
            } else if let Some(k) = self.tool.is_none().then(|| hit(&self.drawings, p)).flatten() {
                self.selected = Some(k);
                DragMode::MoveDrawing(k)
            } else {
                DragMode::Pan
            });
        }
        if response.dragged() {
            let d = response.drag_delta() * ppp;
            match self.drag {
                Some(DragMode::Pan) => {
                    self.view.pan_bars(-f64::from(d.x) / main.px_per_bar(), n);
                    if !self.view.auto_fit && d.y != 0.0 {
                        self.view.pan_price(f64::from(d.y), f64::from(main.rect.h), current);
                    }
                }
                Some(DragMode::ScalePrice) => self.view.scale_price((f64::from(d.y) * 0.004).exp(), current),
                Some(DragMode::MoveDrawing(k)) => {
                    if let (Some(p), Some(drawing)) = (pointer, self.drawings.get_mut(k)) {
                        let [x1, p1] = main.chart_from_screen(f64::from(p[0]), f64::from(p[1]));
                        let [x0, p0] = main.chart_from_screen(f64::from(p[0] - d.x), f64::from(p[1] - d.y));
                        drawing.translate(time_at(ts, x1) - time_at(ts, x0), p1 - p0);
                        self.drawings_changed = true;
                    }
                }
                None => {}
            }
        }
        if response.drag_stopped() {
            self.drag = None;
        }
        if response.double_clicked() {
            if pointer.is_some_and(|p| plan.price_axis.contains(p[0], p[1])) {
                self.view.auto_fit = true;
            } else {
                self.view = ChartView { scale: self.view.scale, ..ChartView::latest(n) };
            }
        } else if response.clicked()
            && let Some(p) = pointer
            && main.rect.contains(p[0], p[1])
        {
            let [x, price] = main.chart_from_screen(f64::from(p[0]), f64::from(p[1]));
            let anchor = Anchor { ts_nanos: time_at(ts, x), price };
            match (self.tool, self.pending_anchor) {
                (Some(DrawingKind::HorizontalLine), _) => {
                    self.drawings.push(Drawing::new(DrawingKind::HorizontalLine, anchor, anchor));
                    self.finish_drawing();
                }
                (Some(_), None) => self.pending_anchor = Some(anchor),
                (Some(kind), Some(a)) => {
                    self.drawings.push(Drawing::new(kind, a, anchor));
                    self.finish_drawing();
                }
                (None, _) => self.selected = hit(&self.drawings, p),
            }
        }
    }

    fn finish_drawing(&mut self) {
        self.selected = Some(self.drawings.len() - 1);
        self.tool = None;
        self.pending_anchor = None;
        self.drawings_changed = true;
    }

    /// Asks for a file on the `aio-export` thread, renders the current view offscreen at 1920×1080 and writes
    /// the PNG there.
    fn start_export(&mut self, ctx: egui::Context, data: Arc<ChartData>, theme: ChartTheme) {
        let view = self.view;
        let annotations =
            Annotations { trades: self.trades.clone(), drawings: self.drawings.clone(), ..Default::default() };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new().name("aio-export".into()).spawn(move || {
            let result = (|| {
                let Some(path) =
                    rfd::FileDialog::new().add_filter("PNG", &["png"]).set_file_name("chart.png").save_file()
                else {
                    return Ok(None);
                };
                let mut renderer = OffscreenRenderer::new().map_err(|e| e.to_string())?;
                let image = renderer
                    .render_chart(&data, &view, [1920, 1080], &theme, &annotations)
                    .map_err(|e| e.to_string())?;
                image.write_png(&path).map_err(|e| e.to_string())?;
                Ok(Some(path))
            })();
            let _ = tx.send(result);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.export = Some(rx),
            Err(err) => self.export_message = Some(format!("export failed: {err}")),
        }
    }

    fn poll_export(&mut self) {
        let Some(rx) = &self.export else { return };
        match rx.try_recv() {
            Ok(Ok(Some(path))) => {
                tracing::info!("chart exported to {}", path.display());
                self.export_message = Some(format!("saved {}", path.display()));
                self.export = None;
            }
            Ok(Ok(None)) => self.export = None,
            Ok(Err(err)) => {
                tracing::error!("chart export: {err}");
                self.export_message = Some(format!("export failed: {err}"));
                self.export = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.export = None,
        }
    }
}

/// Datasets up to this many bars get their chart data built on the GUI thread (a few milliseconds), larger ones on
/// the `aio-chart` thread.
const SYNC_BUILD_BARS: usize = 200_000;

/// Keyboard zoom keeps the bar this far from the right edge (as a fraction of the span) in place.
const RIGHT_KEEP: f64 = 0.05;
