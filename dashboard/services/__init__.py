"""What the routes use that is neither a route nor a schema: the live relay, the push
sender, case exports, thumbnails, uploads, the overlay feed, the channel pumps."""
