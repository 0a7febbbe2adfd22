"""crosspost's scheduler: domain core (states, time, posts, publications, dispatch) and its shells."""
