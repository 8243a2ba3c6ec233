//! TradingView's broker-emulator rules for stop and limit exits inside one bar: the price is assumed to move
//! open → high → low → close when the high is nearer the open (ties count as nearer), otherwise
//! open → low → high → close; a level the open has already passed (a gap) fills at the open.

/// Which protective order filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelHit {
    /// The stop loss.
    Stop,
    /// The take-profit limit.
    Target,
}

/// One bar's prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarPath {
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
}

impl BarPath {
    /// Whether the emulator visits the high before the low.
    pub fn high_first(&self) -> bool {
        self.high - self.open <= self.open - self.low
    }
}

/// The first of `stop` and `target` a position of the given side meets inside the bar, with its fill price before
/// slippage (the level, or the open after a gap).
pub fn resolve_levels(long: bool, bar: BarPath, stop: Option<f64>, target: Option<f64>) -> Option<(LevelHit, f64)> {
    // Levels hit by the high (a long's target, a short's stop) and by the low (a long's stop, a short's target).
    let (up, down) = if long {
        (target.map(|p| (LevelHit::Target, p)), stop.map(|p| (LevelHit::Stop, p)))
    } else {
        (stop.map(|p| (LevelHit::Stop, p)), target.map(|p| (LevelHit::Target, p)))
    };
    if let Some((hit, level)) = up
        && bar.open >= level
    {
        return Some((hit, bar.open));
    }
    if let Some((hit, level)) = down
        && bar.open <= level
    {
        return Some((hit, bar.open));
    }
    let up_hit = up.filter(|(_, level)| bar.high >= *level);
    let down_hit = down.filter(|(_, level)| bar.low <= *level);
    if bar.high_first() { up_hit.or(down_hit) } else { down_hit.or(up_hit) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAR: BarPath = BarPath { open: 1.1000, high: 1.1020, low: 1.0950 };

    #[test]
    fn high_nearer_the_open_visits_the_high_first() {
        assert!(BAR.high_first());
        // Long with both levels inside the bar: target (1.1015) is met on the way up before the stop (1.0960).
        assert_eq!(resolve_levels(true, BAR, Some(1.0960), Some(1.1015)), Some((LevelHit::Target, 1.1015)));
        // Short: the stop above (1.1015) comes first.
        assert_eq!(resolve_levels(false, BAR, Some(1.1015), Some(1.0960)), Some((LevelHit::Stop, 1.1015)));
    }

    #[test]
    fn low_nearer_the_open_visits_the_low_first() {
        let bar = BarPath { open: 1.1000, high: 1.1050, low: 1.0990 };
        assert!(!bar.high_first());
        assert_eq!(resolve_levels(true, bar, Some(1.0995), Some(1.1040)), Some((LevelHit::Stop, 1.0995)));
        assert_eq!(resolve_levels(true, bar, Some(1.0980), Some(1.1040)), Some((LevelHit::Target, 1.1040)));
        assert_eq!(resolve_levels(true, bar, Some(1.0980), Some(1.1060)), None);
    }

    #[test]
    fn gaps_fill_at_the_open() {
        let gap_down = BarPath { open: 1.0900, high: 1.0950, low: 1.0850 };
        assert_eq!(resolve_levels(true, gap_down, Some(1.0950), None), Some((LevelHit::Stop, 1.0900)));
        assert_eq!(resolve_levels(false, gap_down, None, Some(1.0950)), Some((LevelHit::Target, 1.0900)));
        let gap_up = BarPath { open: 1.1100, high: 1.1150, low: 1.1050 };
        assert_eq!(resolve_levels(true, gap_up, Some(1.0950), Some(1.1050)), Some((LevelHit::Target, 1.1100)));
        assert_eq!(resolve_levels(false, gap_up, Some(1.1050), None), Some((LevelHit::Stop, 1.1100)));
    }
}
