"""Questions answered on the network: routes, nearest stations, service circles,
coverage, site suggestions, and the administrative regions they are asked about."""
