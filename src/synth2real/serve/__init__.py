"""The comparison behind the web demo and its JSON API (`compare`), and its HTML (`html`)."""
