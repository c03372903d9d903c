"""Trip booking: a car, a hotel and a flight, each undone if a later one fails."""
