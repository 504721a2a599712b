"""What customers do: order lines from the webshop/ERP and engagement events from the email
platform, loaded per drop and attached to golden customers through the match."""
