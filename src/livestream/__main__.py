from livestream.cli import app

app()
