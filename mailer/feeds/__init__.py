"""RSS-to-email: feed campaigns that collect a feed's new items on a schedule and send them as a campaign."""
